import type { NodeId, ReadState } from '@kv/consensus'
import { MAX_PENDING_READS } from './limits.js'

/**
 * The leader's linearizable read barrier, equivalent to Raft's ReadIndex (§6.4).
 *
 * Why it is safe. A write acknowledged to a client was applied somewhere, so its slot s
 * was chosen and every slot below it too. The current leader's phase 1 heard from a
 * quorum, which intersects the quorum that accepted s, so s was either at or below the
 * leader's watermark or re-proposed by its recovery; once every recovery slot is chosen
 * (commitIndex >= recoveryThrough) the leader's commitIndex covers every write acknowledged
 * before its ballot was established, and every later write is chosen by this leader, so
 * it is below its commitIndex too — unless a higher ballot has been established since.
 * So each round first takes `index = commitIndex` and then confirms, with one heartbeat
 * acknowledged by a quorum at this ballot, that no higher ballot had a quorum's promise
 * when the read arrived: any such ballot's Promise quorum intersects the acknowledging
 * quorum, and an acceptor that promised a higher ballot rejects the heartbeat. A read that
 * arrived while a round was in flight goes to the next round, since that round's
 * heartbeats may have left before the read arrived.
 */
export class ReadBarrier {
  private queued: number[] = []
  private round: { id: number; index: number; ctxs: number[]; acks: Set<NodeId> } | null = null
  private lastRoundId = 0

  /** The round the next heartbeats must carry (0: none in flight). */
  get roundInFlight(): number {
    return this.round?.id ?? 0
  }

  get pending(): number {
    return this.queued.length + (this.round?.ctxs.length ?? 0)
  }

  /** Queue a read; returns a failed ReadState when the queue is full. */
  enqueue(ctx: number): ReadState | null {
    if (this.pending >= MAX_PENDING_READS) return { ctx, index: null }
    this.queued.push(ctx)
    return null
  }

  /** Starts a round over every queued read, if none is in flight; returns its id. */
  startRound(index: number, self: NodeId): number | null {
    if (this.round !== null || this.queued.length === 0) return null
    this.lastRoundId += 1
    this.round = { id: this.lastRoundId, index, ctxs: this.queued, acks: new Set([self]) }
    this.queued = []
    return this.lastRoundId
  }

  /** `from` acknowledged round `roundId`, the one in flight. */
  acknowledged(roundId: number, from: NodeId): boolean {
    return this.round?.id === roundId && this.round.acks.has(from)
  }

  /** Counts an acknowledgement at the leader's ballot; returns the answers once `isQuorum`
   * says the acknowledgements are a quorum (of voters: a learner's never counts). */
  acknowledge(from: NodeId, roundId: number, isQuorum: (acks: ReadonlySet<NodeId>) => boolean): ReadState[] {
    const round = this.round
    if (round === null || round.id !== roundId) return []
    round.acks.add(from)
    if (!isQuorum(round.acks)) return []
    this.round = null
    return round.ctxs.map((ctx) => ({ ctx, index: round.index }))
  }

  /** Leadership is lost: every pending read fails so the caller can retry elsewhere. */
  failAll(): ReadState[] {
    const ctxs = [...(this.round?.ctxs ?? []), ...this.queued]
    this.round = null
    this.queued = []
    return ctxs.map((ctx) => ({ ctx, index: null }))
  }
}
