import type { Entry, NodeId, SnapshotChunk, SnapshotChunkAck } from '@kv/consensus'

/**
 * The Multi-Paxos messages ("Paxos Made Moderately Complex": p1a/p1b, p2a/p2b, decision).
 * Every message carries `term`: for a leader's message, the sender's ballot; for a reply,
 * the ballot it answers (which the recipient owns); for a Reject, the higher ballot the
 * sender has promised.
 */
interface Base<T extends string> {
  readonly type: T
  readonly from: NodeId
  readonly to: NodeId
  readonly term: number
}

/** Before phase 1 (Raft §9.6 PreVote, carried over): "would you promise this ballot?"
 * Nothing is promised or persisted, so a replica cut off from the group cannot inflate
 * the ballots and depose a healthy leader when it comes back. */
export type PrePrepare = Base<'pre-prepare'>

/** The answer to a PrePrepare: yes if this replica heard from no leader for an election
 * timeout and promised nothing at or above that ballot. */
export interface PrePromise extends Base<'pre-promise'> {
  readonly granted: boolean
}

/** Phase 1a, once per view change, for every slot above the candidate's chosen watermark.
 * `fromSlot` asks for the report from that slot on: above `commitIndex + 1` it continues a
 * report that did not fit in one Promise. */
export interface Prepare extends Base<'prepare'> {
  readonly commitIndex: number
  readonly fromSlot: number
}

/** Phase 1b: the acceptor's accepted slots from the Prepare's `fromSlot`, and its own
 * watermark (slots at or below it are known chosen). At most `maxBytesPerMessage` of slots:
 * `complete` is false when more follow (the candidate asks again from the next slot).
 * `snapshotIndex` is the acceptor's snapshot: above the candidate's watermark, the candidate
 * lacks chosen values only that snapshot holds, and cannot lead (it steps aside). */
export interface PaxosPromise extends Base<'promise'> {
  readonly commitIndex: number
  /** The Prepare's `fromSlot`: which part of the report this is. */
  readonly fromSlot: number
  readonly accepted: readonly Entry[]
  readonly complete: boolean
  readonly snapshotIndex: number
}

/** Phase 2a for a batch of slots, all proposed at `term`; also carries the leader's
 * chosen watermark. */
export interface Accept extends Base<'accept'> {
  readonly commitIndex: number
  readonly entries: readonly Entry[]
}

/** Phase 2b: the acceptor accepted these slots at `term`. */
export interface Accepted extends Base<'accepted'> {
  readonly slots: readonly number[]
  readonly commitIndex: number
}

/** The leader's new chosen watermark, sent when it advances (no reply). */
export interface Commit extends Base<'commit'> {
  readonly commitIndex: number
}

/** Liveness and read barrier: `readRound` > 0 asks the acceptor to confirm the ballot. */
export interface Heartbeat extends Base<'heartbeat'> {
  readonly commitIndex: number
  readonly readRound: number
}

export interface HeartbeatReply extends Base<'heartbeat-reply'> {
  readonly commitIndex: number
  readonly readRound: number
}

/** Catch-up: chosen values from `entries[0].index`, gap-free, for a replica that missed them. */
export interface Learn extends Base<'learn'> {
  readonly commitIndex: number
  readonly entries: readonly Entry[]
}

/** Catch-up when the slots a replica misses are compacted away: one chunk of the leader's
 * snapshot (see `SnapshotChunk` in @kv/consensus). The chunk that completes the snapshot is
 * answered by a LearnReply once the snapshot is durable; any other by a SnapshotReply. */
export interface InstallSnapshot extends Base<'install-snapshot'>, SnapshotChunk {}

/** The bytes of snapshot `snapshotIndex` the replica holds (`offset`); `accepted` is false
 * when it could not use the chunk (a gap before it, or a snapshot it is not assembling). */
export interface SnapshotReply extends Base<'snapshot-reply'>, SnapshotChunkAck {}

export interface LearnReply extends Base<'learn-reply'> {
  readonly commitIndex: number
}

/** A message at a ballot lower than the one the sender promised; `term` is that promise. */
export type Reject = Base<'reject'>

/** Leadership transfer: the leader asks `to` to start a view change now. */
export type TimeoutNow = Base<'timeout-now'>

export type PaxosMessage =
  | PrePrepare
  | PrePromise
  | Prepare
  | PaxosPromise
  | Accept
  | Accepted
  | Commit
  | Heartbeat
  | HeartbeatReply
  | Learn
  | InstallSnapshot
  | SnapshotReply
  | LearnReply
  | Reject
  | TimeoutNow

export type PaxosMessageType = PaxosMessage['type']

/** Messages only the owner of `term` may send (its ballot). */
export const LEADER_MESSAGES: ReadonlySet<PaxosMessageType> = new Set([
  'pre-prepare',
  'prepare',
  'accept',
  'commit',
  'heartbeat',
  'learn',
  'install-snapshot',
  'timeout-now',
])

/** Replies to a ballot the recipient owns. */
export const REPLY_MESSAGES: ReadonlySet<PaxosMessageType> = new Set([
  'pre-promise',
  'promise',
  'accepted',
  'heartbeat-reply',
  'learn-reply',
  'snapshot-reply',
])
