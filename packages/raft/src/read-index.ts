import { assert, hasQuorum, type NodeId, type ReadState } from '@kv/consensus'
import { limits } from './limits.js'
import type { RaftNode } from './raft.js'
import { broadcastHeartbeat } from './replication.js'

interface PendingRead {
  readonly ctx: number
  readonly index: number
}

interface Round {
  readonly id: number
  readonly reads: readonly PendingRead[]
  readonly acks: Set<NodeId>
}

/**
 * ReadIndex (Raft thesis §6.4), batched: reads wait in at most three places.
 *
 * 1. `awaitingCommit`: the leader has not yet committed an entry of its term, so its
 *    commitIndex may be behind the last leader's (§6.4 step 1). They get an index later.
 * 2. `nextBatch`: index recorded; they share the next confirmation round.
 * 3. `round`: one heartbeat round in flight; a quorum of acks (self included) confirms
 *    that no newer leader existed when the reads arrived (§6.4 step 3).
 *
 * Only one round is in flight at a time, so N reads cost one round trip, not N.
 */
export class ReadIndexQueue {
  private awaitingCommit: number[] = []
  private nextBatch: PendingRead[] = []
  private round: Round | null = null
  private lastRoundId = 0

  /** `isQuorum`: the acknowledgements include a majority of the current voters (learners'
   * acknowledgements never count; the configuration may change while a round is in flight). */
  constructor(private readonly self: NodeId, private readonly isQuorum: (acks: ReadonlySet<NodeId>) => boolean) {}

  size(): number {
    return this.awaitingCommit.length + this.nextBatch.length + (this.round?.reads.length ?? 0)
  }

  isFull(): boolean {
    return this.size() >= limits.maxPendingReads
  }

  /** The round that heartbeats should carry now (0: none). */
  currentRoundId(): number {
    return this.round?.id ?? 0
  }

  waitForCommit(ctx: number): void {
    this.awaitingCommit.push(ctx)
  }

  add(ctx: number, index: number): void {
    this.nextBatch.push({ ctx, index })
  }

  /** The leader committed an entry of its term: waiting reads may take `commitIndex`. */
  releaseAwaitingCommit(commitIndex: number): void {
    for (const ctx of this.awaitingCommit) this.nextBatch.push({ ctx, index: commitIndex })
    this.awaitingCommit = []
  }

  /** Starts a round if none is in flight and reads are waiting; returns its id, or null. */
  maybeStartRound(): number | null {
    if (this.round !== null || this.nextBatch.length === 0) return null
    this.lastRoundId++
    this.round = { id: this.lastRoundId, reads: this.nextBatch, acks: new Set([this.self]) }
    this.nextBatch = []
    return this.round.id
  }

  /** A follower answered a heartbeat of `roundId`; returns the reads it confirmed, if any. */
  onAck(from: NodeId, roundId: number): ReadState[] {
    const round = this.round
    if (round === null || roundId !== round.id) return []
    round.acks.add(from)
    if (!this.isQuorum(round.acks)) return []
    this.round = null
    return round.reads.map(({ ctx, index }) => ({ ctx, index }))
  }

  /** Confirms everything at once (a single-node group is its own quorum). */
  confirmAll(): ReadState[] {
    assert(this.isQuorum(new Set([this.self])), 'only a group whose one voter leads confirms reads without a round')
    const reads = [...(this.round?.reads ?? []), ...this.nextBatch]
    this.round = null
    this.nextBatch = []
    return reads.map(({ ctx, index }) => ({ ctx, index }))
  }

  /** Leadership lost: every pending read fails, so the caller retries elsewhere. */
  failAll(): ReadState[] {
    const failed: ReadState[] = [
      // In arrival order: reads awaiting commit came first, then the round, then the batch.
      ...this.awaitingCommit.map((ctx) => ({ ctx, index: null })),
      ...(this.round?.reads ?? []).map(({ ctx }) => ({ ctx, index: null })),
      ...this.nextBatch.map(({ ctx }) => ({ ctx, index: null })),
    ]
    this.awaitingCommit = []
    this.nextBatch = []
    this.round = null
    return failed
  }
}

// ---------------------------------------------------------------------------------------
// The leader's side of the flow, as functions of the node.

/** Thesis §6.4: a linearizable read on the leader; answered in a later Ready. */
export function requestRead(r: RaftNode, ctx: number): void {
  assert(r.role === 'leader', 'reads are served by the leader only')
  if (r.reads.isFull()) {
    r.readStates.push({ ctx, index: null })
    return
  }
  // §6.4 step 1: until an entry of our term commits, our commitIndex may be stale.
  if (r.log.term(r.log.commitIndex) !== r.term) r.reads.waitForCommit(ctx)
  else r.reads.add(ctx, r.log.commitIndex)
}

export function releaseReadsAwaitingCommit(r: RaftNode): void {
  if (r.log.term(r.log.commitIndex) === r.term) r.reads.releaseAwaitingCommit(r.log.commitIndex)
}

/**
 * Called when the Ready is built, and when a round completes: starts a confirmation round
 * for every read waiting, unless one is in flight (they then share the next). Reads that
 * arrive between two Readys thus share one round.
 */
export function flushReads(r: RaftNode): void {
  if (hasQuorum(r.membership, [r.id])) {
    r.readStates.push(...r.reads.confirmAll())
    return
  }
  if (r.reads.maybeStartRound() !== null) broadcastHeartbeat(r)
}

export function onReadAck(r: RaftNode, from: NodeId, roundId: number): void {
  const confirmed = r.reads.onAck(from, roundId)
  if (confirmed.length === 0) return
  r.readStates.push(...confirmed)
  flushReads(r)
}
