/**
 * A small deterministic network for the Paxos core's tests (not exported from the
 * package). It plays the shell: ready → send now → persist → send after persist → apply
 * → advance, and it delivers, drops, reorders and partitions messages, crashes nodes and
 * restarts them from exactly what was persisted. It checks, after every step, each core's
 * invariants, that one ballot has at most one leader, and that no two nodes ever apply
 * different entries at one index.
 */
import {
  createRng,
  initialMembership,
  membershipFields,
  type ConsensusCore,
  type CoreConfig,
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
import { createPaxos } from './paxos.js'

export interface ClusterOptions {
  readonly size: number
  readonly seed: number
  readonly electionTimeoutTicks?: number
  readonly heartbeatTicks?: number
  readonly maxEntriesPerMessage?: number
  readonly maxInflightMessages?: number
  /** `CoreConfig.options` per node. */
  readonly nodeOptions?: Readonly<Record<NodeId, Readonly<Record<string, unknown>>>>
  /** `CoreConfig`'s byte bounds for every node. */
  readonly byteBounds?: Partial<Pick<CoreConfig, 'maxBytesPerMessage' | 'maxSnapshotChunkBytes' | 'maxPersistBytesPerReady' | 'maxApplyBytesPerReady'>>
}

/** What survives a crash: exactly what Readys asked to persist. */
interface Disk {
  hardState: HardState | null
  snapshot: Snapshot | null
  readonly entries: Map<number, Entry>
}

/** The application: the sequence it applied, as strings ("noop" for noops). */
export interface App {
  log: string[]
  readStates: ReadState[]
  /** The membership fields a snapshot taken now carries (see `Snapshot.membership`). */
  membership: Pick<Snapshot, 'membership' | 'membershipIndex' | 'previousMembership'>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const bytes = (text: string): Uint8Array => encoder.encode(text)
export const entryText = (entry: Entry): string => {
  if (entry.type === 'noop') return 'noop'
  if (entry.type === 'membership') return `${entry.change.type} ${entry.change.id}`
  return decoder.decode(entry.data)
}

export class TestCluster {
  /** Every replica of the run, those added later included (`addNode`). */
  readonly ids: NodeId[]
  /** The group's initial voters (`CoreConfig.members` of every replica). */
  readonly initialIds: readonly NodeId[]
  readonly rng: Rng
  readonly apps = new Map<NodeId, App>()
  readonly disks = new Map<NodeId, Disk>()
  /** Every message sent, by type (for batching assertions). */
  readonly sent: PeerMessage[] = []
  inFlight: PeerMessage[] = []
  dropRate = 0
  /** Hook: return false to hold a message back (it stays out of the network). */
  filter: (msg: PeerMessage) => boolean = () => true
  private readonly cores = new Map<NodeId, ConsensusCore | null>()
  private readonly blocked = new Set<string>()
  private readonly chosen = new Map<number, string>()
  private readonly leaderOfBallot = new Map<number, NodeId>()

  constructor(private readonly options: ClusterOptions) {
    this.ids = Array.from({ length: options.size }, (_, i) => `n${i + 1}`)
    this.initialIds = [...this.ids]
    this.rng = createRng(options.seed)
    for (const id of this.ids) {
      this.disks.set(id, { hardState: null, snapshot: null, entries: new Map() })
      this.start(id)
    }
  }

  /** Starts a brand-new, empty replica that joins the group (not among the initial members). */
  addNode(id: NodeId): void {
    if (this.disks.has(id)) throw new Error(`${id} exists`)
    this.ids.push(id)
    this.disks.set(id, { hardState: null, snapshot: null, entries: new Map() })
    this.start(id)
  }

  /** `id` proposes a membership change (it must lead for it to be taken). */
  changeMembership(id: NodeId, change: Omit<MembershipChange, 'context'>): ProposeMembershipResult {
    return this.core(id).proposeMembership({ ...change, context: bytes(`addr-of-${change.id}`) })
  }

  core(id: NodeId): ConsensusCore {
    const core = this.cores.get(id)
    if (core === null || core === undefined) throw new Error(`${id} is down`)
    return core
  }

  app(id: NodeId): App {
    const app = this.apps.get(id)
    if (app === undefined) throw new Error(`no app for ${id}`)
    return app
  }

  isUp(id: NodeId): boolean {
    return (this.cores.get(id) ?? null) !== null
  }

  upNodes(): NodeId[] {
    return this.ids.filter((id) => this.isUp(id))
  }

  /** (Re)start a node from its disk; its application restores the snapshot, if any. */
  start(id: NodeId): void {
    const disk = this.disks.get(id)!
    const fresh = disk.hardState === null && disk.snapshot === null && disk.entries.size === 0
    const snapshotIndex = disk.snapshot?.index ?? 0
    const entries = [...disk.entries.values()].filter((e) => e.index > snapshotIndex).sort((a, b) => a.index - b.index)
    const nodeOptions = this.options.nodeOptions?.[id]
    const random = this.rng.fork()
    this.cores.set(
      id,
      createPaxos({
        id,
        members: this.initialIds,
        electionTimeoutTicks: this.options.electionTimeoutTicks ?? 10,
        heartbeatTicks: this.options.heartbeatTicks ?? 2,
        random: () => random.next(),
        maxEntriesPerMessage: this.options.maxEntriesPerMessage ?? 64,
        maxInflightMessages: this.options.maxInflightMessages ?? 4,
        persisted: fresh ? null : { hardState: disk.hardState, snapshot: disk.snapshot, entries },
        ...(nodeOptions === undefined ? {} : { options: nodeOptions }),
        ...this.options.byteBounds,
      }),
    )
    const log = disk.snapshot === null ? [] : (JSON.parse(decoder.decode(disk.snapshot.data)) as string[])
    const membership = disk.snapshot?.membership === undefined ? { membership: initialMembership(this.initialIds), membershipIndex: 0 } : membershipFields(disk.snapshot)
    this.apps.set(id, { log, readStates: [], membership })
  }

  /** The process dies: memory is gone, the disk stays. */
  crash(id: NodeId): void {
    this.cores.set(id, null)
  }

  isolate(id: NodeId): void {
    for (const other of this.ids) {
      if (other === id) continue
      this.blocked.add(`${id}>${other}`)
      this.blocked.add(`${other}>${id}`)
    }
  }

  /** Messages flow only inside each group. */
  partition(...groups: NodeId[][]): void {
    this.heal()
    for (const a of this.ids) {
      for (const b of this.ids) {
        if (!groups.some((g) => g.includes(a) && g.includes(b))) this.blocked.add(`${a}>${b}`)
      }
    }
  }

  heal(): void {
    this.blocked.clear()
  }

  /** Runs one Ready of `id` through the shell's duties; `crashBeforePersist` kills it after
   * `messagesNow` left and before anything became durable. */
  processReady(id: NodeId, crashBeforePersist = false): boolean {
    const core = this.core(id)
    const ready = core.ready()
    if (ready === null) return false
    this.send(ready.messagesNow)
    if (crashBeforePersist) {
      this.crash(id)
      return true
    }
    this.persist(id, ready)
    this.send(ready.messagesAfterPersist)
    this.apply(id, ready)
    core.advance(ready)
    this.check(id)
    return true
  }

  private send(messages: readonly PeerMessage[]): void {
    for (const msg of messages) {
      this.sent.push(msg)
      if (this.filter(msg)) this.inFlight.push(structuredClone(msg))
    }
  }

  private persist(id: NodeId, ready: Ready): void {
    const disk = this.disks.get(id)!
    if (ready.snapshot !== null) {
      disk.snapshot = ready.snapshot
      for (const index of disk.entries.keys()) if (index <= ready.snapshot.index) disk.entries.delete(index)
    }
    if (ready.truncateFrom !== null) {
      for (const index of disk.entries.keys()) if (index >= ready.truncateFrom) disk.entries.delete(index)
    }
    for (const entry of ready.entries) disk.entries.set(entry.index, entry)
    if (ready.hardState !== null) disk.hardState = ready.hardState
  }

  private apply(id: NodeId, ready: Ready): void {
    const app = this.app(id)
    if (ready.snapshot !== null) {
      app.log = JSON.parse(decoder.decode(ready.snapshot.data)) as string[]
      app.membership = membershipFields(ready.snapshot)
    }
    for (const entry of ready.committed) {
      if (entry.index !== app.log.length + 1) {
        throw new Error(`${id} applied ${entry.index} after ${app.log.length}`)
      }
      const value = entryText(entry)
      const first = this.chosen.get(entry.index)
      if (first !== undefined && first !== value) {
        throw new Error(`${id} applied "${value}" at ${entry.index}, another node applied "${first}"`)
      }
      this.chosen.set(entry.index, value)
      app.log.push(value)
      if (entry.type === 'membership') {
        const previous = app.membership.membership
        app.membership = { membership: entry.membership, membershipIndex: entry.index, ...(previous === undefined ? {} : { previousMembership: previous }) }
      }
    }
    app.readStates.push(...ready.readStates)
  }

  /** The app of `id` makes a snapshot at its applied index and compacts the core. */
  compact(id: NodeId): Snapshot {
    const app = this.app(id)
    const disk = this.disks.get(id)!
    const index = app.log.length
    const snapshot: Snapshot = { index, term: disk.entries.get(index)?.term ?? 0, data: bytes(JSON.stringify(app.log)), ...app.membership }
    disk.snapshot = snapshot
    for (const i of disk.entries.keys()) if (i <= index) disk.entries.delete(i)
    this.core(id).compact(snapshot)
    return snapshot
  }

  check(id: NodeId): void {
    const core = this.core(id)
    core.checkInvariants()
    const status = core.status()
    if (status.role !== 'leader') return
    const holder = this.leaderOfBallot.get(status.term)
    if (holder !== undefined && holder !== id) throw new Error(`two leaders at ballot ${status.term}: ${holder}, ${id}`)
    this.leaderOfBallot.set(status.term, id)
  }

  /** Delivers everything in flight (in a random order, minus drops), processing Readys,
   * until the network is quiet. */
  stabilize(maxRounds = 2_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let busy = false
      for (const id of this.upNodes()) while (this.processReady(id)) busy = true
      const batch = this.inFlight
      this.inFlight = []
      for (let i = batch.length - 1; i > 0; i--) {
        const j = this.rng.int(i + 1)
        ;[batch[i], batch[j]] = [batch[j]!, batch[i]!]
      }
      for (const msg of batch) {
        busy = true
        this.deliver(msg)
      }
      if (!busy) return
    }
    throw new Error(`network did not settle in ${maxRounds} rounds`)
  }

  deliver(msg: PeerMessage): void {
    if (!this.isUp(msg.to) || this.blocked.has(`${msg.from}>${msg.to}`)) return
    if (this.dropRate > 0 && this.rng.chance(this.dropRate)) return
    this.core(msg.to).step(msg)
    this.check(msg.to)
  }

  /** `ticks` rounds of: tick every live node, then let the network settle. */
  run(ticks: number): void {
    for (let t = 0; t < ticks; t++) {
      for (const id of this.upNodes()) {
        this.core(id).tick()
        this.check(id)
      }
      this.stabilize()
    }
  }

  /** The live leader with the highest ballot, if any. */
  leader(): NodeId | null {
    let best: { id: NodeId; term: number } | null = null
    for (const id of this.upNodes()) {
      const { role, term } = this.core(id).status()
      if (role === 'leader' && (best === null || term > best.term)) best = { id, term }
    }
    return best?.id ?? null
  }

  /** A leader that a quorum (itself included) follows and can reach, if any. */
  private effectiveLeader(): NodeId | null {
    for (const id of this.upNodes()) {
      if (this.core(id).status().role !== 'leader') continue
      if (this.followers(id) + 1 >= Math.floor(this.core(id).status().membership.voters.length / 2) + 1) return id
    }
    return null
  }

  /** Ticks until a leader that a quorum follows exists. */
  waitForLeader(maxTicks = 500): NodeId {
    for (let t = 0; t < maxTicks; t++) {
      const leader = this.effectiveLeader()
      if (leader !== null) return leader
      this.run(1)
    }
    throw new Error(`no leader after ${maxTicks} ticks (seed ${this.options.seed})`)
  }

  private followers(leader: NodeId): number {
    return this.upNodes().filter(
      (id) => id !== leader && !this.blocked.has(`${leader}>${id}`) && this.core(id).status().leader === leader,
    ).length
  }

  /** Proposes on the current leader; returns the slot. */
  propose(text: string): number {
    const result = this.core(this.waitForLeader()).propose(bytes(text))
    if ('type' in result) throw new Error('proposal refused by the leader')
    return result.index
  }
}
