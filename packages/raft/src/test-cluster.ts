/**
 * A deterministic in-process network of Raft cores for tests (not exported by the package).
 *
 * Each replica has a "disk" that holds exactly what its Readys handed out and the harness
 * persisted, and an application (a list of applied payloads). A crash throws the core and
 * the application away; a restart rebuilds both from the disk. The network is a queue of
 * messages; links can be cut, messages dropped, delivered out of order. Every step checks
 * the cores' invariants, Election Safety and State Machine Safety (Raft Figure 3).
 */
import {
  assert,
  byteBounds,
  createRng,
  initialMembership,
  membershipFields,
  type ConsensusCore,
  type Entry,
  type HardState,
  type MembershipChange,
  type NodeId,
  type ProposeMembershipResult,
  type PeerMessage,
  type ReadState,
  type Ready,
  type Rng,
  type Snapshot,
} from '@kv/consensus'
import { createRaft } from './index.js'
import type { RaftMessage } from './messages.js'
import { formatMessage, formatReady } from './test-trace.js'

export interface ClusterOptions {
  readonly size?: number
  readonly seed?: number
  readonly electionTimeoutTicks?: number
  readonly heartbeatTicks?: number
  readonly maxEntriesPerMessage?: number
  readonly maxInflightMessages?: number
  readonly options?: Readonly<Record<string, unknown>>
  /** `CoreConfig`'s byte bounds, passed through when set. */
  readonly maxBytesPerMessage?: number
  readonly maxSnapshotChunkBytes?: number
  readonly maxPersistBytesPerReady?: number
  readonly maxApplyBytesPerReady?: number
  /** Record a human-readable trace of Readys and drops (golden tests). */
  readonly trace?: boolean
}

export interface Disk {
  hardState: HardState | null
  snapshot: Snapshot | null
  entries: Map<number, Entry>
}

export interface Replica {
  readonly id: NodeId
  core: ConsensusCore | null
  readonly disk: Disk
  /** The application: payloads of applied normal entries, and the applied index; the
   * membership fields of the last membership entry applied (what a snapshot carries). */
  app: { appliedIndex: number; items: string[]; membership?: Pick<Snapshot, 'membership' | 'membershipIndex' | 'previousMembership'> }
  readStates: ReadState[]
  readyCount: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function bytes(s: string): Uint8Array {
  return encoder.encode(s)
}

export function text(b: Uint8Array): string {
  return decoder.decode(b)
}

function entryKey(e: Entry): string {
  if (e.type === 'membership') return `${e.term}:${e.change.type} ${e.change.id}`
  return e.type === 'normal' ? `${e.term}:${text(e.data)}` : `${e.term}:noop`
}

export class Cluster {
  /** Every replica of the run, those added later included (`addNode`). */
  readonly ids: NodeId[]
  /** The group's initial voters (`CoreConfig.members` of every replica). */
  readonly initialIds: readonly NodeId[]
  readonly replicas = new Map<NodeId, Replica>()
  network: RaftMessage[] = []
  readonly cutLinks = new Set<string>()
  readonly rng: Rng
  readonly trace: string[] = []
  /** State Machine Safety: the entry every replica applied at each index. */
  readonly appliedAt = new Map<number, string>()
  /** Election Safety: the one leader of each term. */
  readonly leaderOf = new Map<number, NodeId>()
  dropRate = 0
  reorder = false
  /** Messages for which this returns true are dropped on delivery (targeted faults). */
  dropIf: ((m: RaftMessage) => boolean) | null = null

  constructor(readonly opts: ClusterOptions = {}) {
    this.rng = createRng(opts.seed ?? 1)
    this.ids = Array.from({ length: opts.size ?? 3 }, (_, i) => `n${i + 1}`)
    this.initialIds = [...this.ids]
    for (const id of this.ids) this.createReplica(id)
  }

  private createReplica(id: NodeId): void {
    const replica: Replica = {
      id, core: null, disk: { hardState: null, snapshot: null, entries: new Map() },
      app: { appliedIndex: 0, items: [] }, readStates: [], readyCount: 0,
    }
    this.replicas.set(id, replica)
    this.start(replica)
  }

  /** Starts a brand-new, empty replica `id` that joins the group (it is not among the
   * initial members: it learns its membership from the leader once a change adds it). */
  addNode(id: NodeId): void {
    assert(!this.replicas.has(id), `${id} exists`)
    this.ids.push(id)
    this.createReplica(id)
  }

  /** `id` proposes a membership change (it must lead for it to be taken). */
  changeMembership(id: NodeId, change: Omit<MembershipChange, 'context'>): ProposeMembershipResult {
    const result = this.core(id).proposeMembership({ ...change, context: bytes(`addr-of-${change.id}`) })
    this.processReady(id)
    return result
  }

  replica(id: NodeId): Replica {
    const r = this.replicas.get(id)
    assert(r !== undefined, `no replica ${id}`)
    return r
  }

  core(id: NodeId): ConsensusCore {
    const core = this.replica(id).core
    assert(core !== null, `${id} is down`)
    return core
  }

  private start(replica: Replica): void {
    const { disk } = replica
    const random = this.rng.fork()
    const entries = [...disk.entries.values()].sort((a, b) => a.index - b.index)
    const fresh = disk.hardState === null && disk.snapshot === null && entries.length === 0
    replica.core = createRaft({
      id: replica.id,
      members: this.initialIds,
      electionTimeoutTicks: this.opts.electionTimeoutTicks ?? 10,
      heartbeatTicks: this.opts.heartbeatTicks ?? 2,
      random: () => random.next(),
      maxEntriesPerMessage: this.opts.maxEntriesPerMessage ?? 64,
      maxInflightMessages: this.opts.maxInflightMessages ?? 4,
      persisted: fresh ? null : { hardState: disk.hardState, snapshot: disk.snapshot, entries },
      ...(this.opts.options === undefined ? {} : { options: this.opts.options }),
      ...byteBounds(this.opts),
    })
    // The application restores its own snapshot; committed entries after it come again.
    const snap = disk.snapshot
    replica.app = snap === null ? { appliedIndex: 0, items: [] } : appFromSnapshot(snap)
  }

  isUp(id: NodeId): boolean {
    return this.replica(id).core !== null
  }

  // --- the Ready cycle --------------------------------------------------------------------

  /** Drives `id`'s Ready cycle until it has nothing left to do. */
  processReady(id: NodeId): void {
    const replica = this.replica(id)
    for (let guard = 0; guard < 1000; guard++) {
      const core = replica.core
      if (core === null) return
      const ready = core.ready()
      if (ready === null) return
      this.handleReady(replica, core, ready)
    }
    throw new Error(`${id}: Ready loop did not settle`)
  }

  private handleReady(replica: Replica, core: ConsensusCore, ready: Ready): void {
    replica.readyCount++
    if (this.opts.trace === true) this.trace.push(...formatReady(replica.id, ready))
    this.sendAll(ready.messagesNow)
    persist(replica.disk, ready)
    this.sendAll(ready.messagesAfterPersist)
    if (ready.snapshot !== null) replica.app = appFromSnapshot(ready.snapshot)
    for (const e of ready.committed) this.apply(replica, e)
    replica.readStates.push(...ready.readStates)
    core.advance(ready)
    this.check()
  }

  private apply(replica: Replica, e: Entry): void {
    // After a restart committed entries come again: the application skips what it has.
    if (e.index <= replica.app.appliedIndex) return
    assert(e.index === replica.app.appliedIndex + 1, `${replica.id} applies ${e.index} after ${replica.app.appliedIndex}`)
    const key = entryKey(e)
    const seen = this.appliedAt.get(e.index)
    assert(seen === undefined || seen === key, `state machine safety: index ${e.index} is ${seen} and ${key}`)
    this.appliedAt.set(e.index, key)
    replica.app.appliedIndex = e.index
    if (e.type === 'normal') replica.app.items.push(text(e.data))
    if (e.type === 'membership') {
      const previous = replica.app.membership?.membership ?? initialMembership(this.initialIds)
      replica.app.membership = { membership: e.membership, membershipIndex: e.index, previousMembership: previous }
    }
  }

  private sendAll(messages: readonly PeerMessage[]): void {
    for (const m of messages) this.network.push(m as RaftMessage)
  }

  /** Invariants of every live core, and one leader per term across the whole run. */
  check(): void {
    for (const replica of this.replicas.values()) {
      const core = replica.core
      if (core === null) continue
      core.checkInvariants()
      const s = core.status()
      if (s.role !== 'leader') continue
      const known = this.leaderOf.get(s.term)
      assert(known === undefined || known === s.id, `election safety: ${known} and ${s.id} lead term ${s.term}`)
      this.leaderOf.set(s.term, s.id)
    }
  }

  // --- time and network -----------------------------------------------------------------

  tick(count = 1, ids: readonly NodeId[] = this.ids): void {
    for (let i = 0; i < count; i++) {
      for (const id of ids) {
        if (!this.isUp(id)) continue
        this.core(id).tick()
        this.processReady(id)
      }
    }
  }

  private isCut(m: PeerMessage): boolean {
    return this.cutLinks.has(`${m.from}>${m.to}`) || !this.isUp(m.to)
  }

  /** Delivers one message (the oldest, or a random one when reordering); false if none. */
  deliverOne(): boolean {
    if (this.network.length === 0) return false
    const at = this.reorder ? this.rng.int(this.network.length) : 0
    const [m] = this.network.splice(at, 1)
    assert(m !== undefined, 'message vanished')
    const unlucky = this.dropRate > 0 && this.rng.chance(this.dropRate)
    if (this.isCut(m) || unlucky || this.dropIf?.(m) === true) {
      if (this.opts.trace === true) this.trace.push(`  dropped ${formatMessage(m)}`)
      return true
    }
    this.core(m.to).step(m)
    this.processReady(m.to)
    return true
  }

  /** Delivers until the network is empty (or `max` messages). */
  deliverAll(max = 100_000): number {
    let n = 0
    while (n < max && this.deliverOne()) n++
    return n
  }

  /** Ticks everyone and delivers everything, `rounds` times. */
  run(rounds: number): void {
    for (let i = 0; i < rounds; i++) {
      this.tick()
      this.deliverAll()
    }
  }

  /** Drops queued messages matching `filter`. */
  drop(filter: (m: RaftMessage) => boolean): number {
    const before = this.network.length
    this.network = this.network.filter((m) => !filter(m))
    return before - this.network.length
  }

  /** Cuts every link between groups (both directions). */
  partition(...groups: NodeId[][]): void {
    this.heal()
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue
        for (const x of a) for (const y of b) this.cutLinks.add(`${x}>${y}`)
      }
    }
  }

  isolate(id: NodeId): void {
    this.partition([id], this.ids.filter((x) => x !== id))
  }

  heal(): void {
    this.cutLinks.clear()
  }

  // --- crashes --------------------------------------------------------------------------

  crash(id: NodeId): void {
    this.replica(id).core = null
    this.replica(id).readStates = []
  }

  /**
   * Crashes `id` in the middle of a Ready: its `messagesNow` went out, nothing was persisted.
   * Returns false if it had no work.
   */
  crashMidReady(id: NodeId): boolean {
    const core = this.replica(id).core
    const ready = core?.ready() ?? null
    if (ready === null) return false
    this.sendAll(ready.messagesNow)
    this.crash(id)
    return true
  }

  restart(id: NodeId): void {
    const replica = this.replica(id)
    assert(replica.core === null, `${id} is running`)
    this.start(replica)
    this.processReady(id)
    this.check()
  }

  // --- client side ----------------------------------------------------------------------

  /** The live leader with the highest term, if any. */
  leader(): NodeId | null {
    let best: { id: NodeId; term: number } | null = null
    for (const id of this.ids) {
      if (!this.isUp(id)) continue
      const s = this.core(id).status()
      if (s.role === 'leader' && (best === null || s.term > best.term)) best = { id, term: s.term }
    }
    return best?.id ?? null
  }

  /** Ticks only `id` until it starts campaigning (its peers keep their timers). */
  campaign(id: NodeId): void {
    for (let i = 0; i < 4 * (this.opts.electionTimeoutTicks ?? 10); i++) {
      this.tick(1, [id])
      if (this.core(id).status().role !== 'follower') return
    }
    throw new Error(`${id} never campaigned`)
  }

  /** Makes `id` leader: it campaigns alone, then the network delivers everything. */
  electNode(id: NodeId): void {
    // A first campaign may only teach it a newer term (a refusal); campaign again.
    for (let attempt = 0; attempt < 5; attempt++) {
      this.campaign(id)
      this.deliverAll()
      if (this.core(id).status().role === 'leader') return
    }
    throw new Error(`${id} did not win`)
  }

  /** Runs until some node leads; returns it. */
  elect(maxRounds = 200): NodeId {
    for (let i = 0; i < maxRounds; i++) {
      const leader = this.leader()
      if (leader !== null) return leader
      this.run(1)
    }
    throw new Error(`no leader after ${maxRounds} rounds`)
  }

  propose(id: NodeId, data: string): ReturnType<ConsensusCore['propose']> {
    const result = this.core(id).propose(bytes(data))
    this.processReady(id)
    return result
  }

  /** The application takes a snapshot at its applied index and lets the core compact. */
  compact(id: NodeId): Snapshot {
    const replica = this.replica(id)
    const core = this.core(id)
    const index = replica.app.appliedIndex
    const term = termAt(replica.disk, index)
    const snapshot: Snapshot = { index, term, data: encodeApp(replica.app.items), ...replica.app.membership }
    replica.disk.snapshot = snapshot
    for (const i of [...replica.disk.entries.keys()]) if (i <= index) replica.disk.entries.delete(i)
    core.compact(snapshot)
    return snapshot
  }

  items(id: NodeId): string[] {
    return this.replica(id).app.items
  }
}

function termAt(disk: Disk, index: number): number {
  const e = disk.entries.get(index)
  if (e !== undefined) return e.term
  assert(disk.snapshot !== null && disk.snapshot.index === index, `no term for index ${index}`)
  return disk.snapshot.term
}

/** The shell's step 2 (see `Ready`): snapshot, truncation, entries, hard state. */
function persist(disk: Disk, ready: Ready): void {
  if (ready.snapshot !== null) {
    disk.snapshot = ready.snapshot
    for (const i of [...disk.entries.keys()]) if (i <= ready.snapshot.index) disk.entries.delete(i)
  }
  const cut = ready.truncateFrom
  if (cut !== null) for (const i of [...disk.entries.keys()]) if (i >= cut) disk.entries.delete(i)
  for (const e of ready.entries) disk.entries.set(e.index, e)
  if (ready.hardState !== null) disk.hardState = ready.hardState
}

function encodeApp(items: readonly string[]): Uint8Array {
  return bytes(JSON.stringify(items))
}

function appFromSnapshot(snap: Snapshot): Replica['app'] {
  const membership = snap.membership === undefined ? {} : { membership: { ...membershipFields(snap) } }
  return { appliedIndex: snap.index, items: decodeApp(snap.data), ...membership }
}

function decodeApp(data: Uint8Array): string[] {
  return JSON.parse(text(data)) as string[]
}
