import type { ConsensusCore, CoreConfig, Entry, HardState, NodeId, NotLeader, PeerMessage, Ready, Snapshot, Status } from '../../types.js'
import { initialMembership } from '../../membership.js'
import { assert } from '../../assert.js'

/**
 * A correct but minimal core for testing the harness itself: `members[0]` leads term 1 forever
 * and replicates to the others, committing on a durable majority. No elections, so it is only
 * driven in tests where the leader never crashes (followers may crash, lag, and need snapshots).
 * It keeps the Ready contract with several Readys in flight: entries are handed out once,
 * count as durable at advance, and are handed out to apply only once durable.
 */
interface Append extends PeerMessage { readonly type: 'append'; readonly entries: readonly Entry[]; readonly commit: number }
interface Ack extends PeerMessage { readonly type: 'ack'; readonly match: number }
interface InstallSnapshot extends PeerMessage { readonly type: 'snapshot'; readonly snapshot: Snapshot }
type Message = Append | Ack | InstallSnapshot

const TERM = 1

export class FixedLeaderCore implements ConsensusCore {
  private readonly id: NodeId
  private readonly leaderId: NodeId
  private log: Entry[] = []
  private snapshot: Snapshot | null = null
  private pendingSnapshot: Snapshot | null = null
  /** Entries up to it were handed out in a Ready. */
  private handedOutIndex = 0
  /** Entries up to it are durable (their Ready was advanced). */
  private stableIndex = 0
  private commitIndex = 0
  /** The commit last handed out in a hard state; -1 until the term is first written (its acks speak for term 1). */
  private handedOutCommit = -1
  private appliedIndex = 0
  private snapshotsInFlight = 0
  private readonly match = new Map<NodeId, number>()
  private outNow: PeerMessage[] = []
  private outAfterPersist: PeerMessage[] = []

  constructor(private readonly config: CoreConfig) {
    this.id = config.id
    this.leaderId = config.members[0]!
    const p = config.persisted
    if (p !== null) {
      this.snapshot = p.snapshot
      this.log = [...p.entries]
      this.stableIndex = this.handedOutIndex = this.lastIndex()
      this.commitIndex = this.handedOutCommit = p.hardState?.commit ?? 0
      this.appliedIndex = p.snapshot?.index ?? 0
    }
    for (const m of config.members) if (m !== this.id) this.match.set(m, 0)
  }

  private get leads(): boolean {
    return this.id === this.leaderId
  }

  private snapshotIndex(): number {
    return this.snapshot?.index ?? 0
  }

  private lastIndex(): number {
    return this.log.at(-1)?.index ?? this.snapshotIndex()
  }

  tick(): void {
    if (!this.leads) return
    for (const [peer, match] of this.match) {
      if (match < this.snapshotIndex() && this.snapshot !== null) {
        this.outNow.push({ type: 'snapshot', from: this.id, to: peer, term: TERM, snapshot: this.snapshot } as InstallSnapshot)
        continue
      }
      const entries = this.log.filter((e) => e.index > match).slice(0, this.config.maxEntriesPerMessage)
      this.outNow.push({ type: 'append', from: this.id, to: peer, term: TERM, entries, commit: this.commitIndex } as Append)
    }
  }

  step(raw: PeerMessage): void {
    const msg = raw as Message
    switch (msg.type) {
      case 'append': {
        for (const e of msg.entries) if (e.index === this.lastIndex() + 1) this.log.push(e)
        this.commitIndex = Math.max(this.commitIndex, Math.min(msg.commit, this.lastIndex()))
        this.ack(msg.from)
        break
      }
      case 'snapshot': {
        if (msg.snapshot.index <= this.lastIndex()) return this.ack(msg.from)
        this.snapshot = this.pendingSnapshot = msg.snapshot
        this.log = []
        this.handedOutIndex = msg.snapshot.index
        this.commitIndex = Math.max(this.commitIndex, msg.snapshot.index)
        this.ack(msg.from)
        break
      }
      case 'ack':
        this.match.set(msg.from, Math.max(this.match.get(msg.from) ?? 0, msg.match))
        this.advanceCommit()
        break
    }
  }

  private ack(to: NodeId): void {
    this.outAfterPersist.push({ type: 'ack', from: this.id, to, term: TERM, match: this.lastIndex() } as Ack)
  }

  private advanceCommit(): void {
    const matches = [this.stableIndex, ...this.match.values()].sort((a, b) => b - a)
    const quorum = matches[Math.floor(this.config.members.length / 2)] ?? 0
    this.commitIndex = Math.max(this.commitIndex, quorum)
  }

  propose(data: Uint8Array): { index: number; term: number } | { type: 'not-leader'; leader: NodeId } {
    if (!this.leads) return { type: 'not-leader', leader: this.leaderId }
    const index = this.lastIndex() + 1
    this.log.push({ type: 'normal', index, term: TERM, data })
    return { index, term: TERM }
  }

  proposeMembership(): NotLeader {
    return { type: 'not-leader', leader: null }
  }

  readIndex(): null {
    return null
  }

  ready(): Ready | null {
    const entries = this.log.filter((e) => e.index > this.handedOutIndex)
    const hardState: HardState | null = this.commitIndex !== this.handedOutCommit ? { term: TERM, vote: null, commit: this.commitIndex } : null
    const from = Math.max(this.appliedIndex, this.snapshotIndex())
    const durableCommit = Math.min(this.commitIndex, this.stableIndex)
    const restoring = this.pendingSnapshot !== null || this.snapshotsInFlight > 0
    const committed = restoring ? [] : this.log.filter((e) => e.index > from && e.index <= durableCommit)
    const r: Ready = {
      hardState, snapshot: this.pendingSnapshot, truncateFrom: null, entries, committed, readStates: [],
      messagesNow: this.outNow, messagesAfterPersist: this.outAfterPersist,
    }
    const empty = entries.length === 0 && hardState === null && r.snapshot === null && committed.length === 0 &&
      r.messagesNow.length === 0 && r.messagesAfterPersist.length === 0
    if (empty) return null
    this.outNow = []
    this.outAfterPersist = []
    this.handedOutIndex = Math.max(this.handedOutIndex, entries.at(-1)?.index ?? 0)
    if (hardState !== null) this.handedOutCommit = hardState.commit
    if (r.snapshot !== null) this.snapshotsInFlight++
    this.pendingSnapshot = null
    const applied = committed.at(-1)
    if (applied !== undefined) this.appliedIndex = applied.index
    return r
  }

  advance(r: Ready): void {
    const last = r.entries.at(-1)
    if (last !== undefined) this.stableIndex = Math.max(this.stableIndex, last.index)
    if (r.snapshot !== null) {
      this.snapshotsInFlight--
      this.stableIndex = Math.max(this.stableIndex, r.snapshot.index)
      this.appliedIndex = Math.max(this.appliedIndex, r.snapshot.index)
    }
    if (this.leads) this.advanceCommit()
  }

  status(): Status {
    return {
      id: this.id, role: this.leads ? 'leader' : 'follower', term: TERM, leader: this.leaderId,
      commitIndex: this.commitIndex, lastIndex: this.lastIndex(), appliedIndex: this.appliedIndex,
      firstIndex: this.snapshotIndex() + 1, membership: initialMembership(this.config.members),
    }
  }

  compact(snapshot: Snapshot): void {
    assert(snapshot.index <= this.appliedIndex, `compact at ${snapshot.index} beyond applied ${this.appliedIndex}`)
    if (snapshot.index <= this.snapshotIndex()) return
    this.snapshot = snapshot
    this.log = this.log.filter((e) => e.index > snapshot.index)
  }

  transferLeadership(): void {}

  checkInvariants(): void {
    assert(this.commitIndex <= this.lastIndex(), `commit ${this.commitIndex} > last ${this.lastIndex()}`)
    assert(this.appliedIndex <= this.commitIndex, `applied ${this.appliedIndex} > commit ${this.commitIndex}`)
  }
}

export const createFixedLeader = (config: CoreConfig): ConsensusCore => new FixedLeaderCore(config)
