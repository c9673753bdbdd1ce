import { isMembershipEntryBody, isSnapshotChunk, isSnapshotChunkAck, type Entry, type NodeId, type PeerMessage, type SnapshotChunk, type SnapshotChunkAck } from '@kv/consensus'
import { limits } from './limits.js'

/**
 * The messages Raft replicas exchange. Every message carries the sender's term (Raft §5.1);
 * a pre-vote request and a granted pre-vote answer carry the term the pre-candidate would
 * campaign in (thesis §9.6).
 */
export type RaftMessage =
  | PreVote
  | PreVoteResponse
  | RequestVote
  | RequestVoteResponse
  | AppendEntries
  | AppendEntriesResponse
  | Heartbeat
  | HeartbeatResponse
  | InstallSnapshot
  | InstallSnapshotResponse
  | TimeoutNow

/** Thesis §9.6: would you vote for me in `term` (= my term + 1)? Changes no one's state. */
export interface PreVote extends PeerMessage {
  readonly type: 'PreVote'
  readonly lastLogIndex: number
  readonly lastLogTerm: number
}

export interface PreVoteResponse extends PeerMessage {
  readonly type: 'PreVoteResponse'
  readonly granted: boolean
}

/** Raft §5.2. `transfer` marks a campaign started by TimeoutNow (thesis §3.10): voters do
 * not refuse it because they heard from a leader recently. */
export interface RequestVote extends PeerMessage {
  readonly type: 'RequestVote'
  readonly lastLogIndex: number
  readonly lastLogTerm: number
  readonly transfer: boolean
}

export interface RequestVoteResponse extends PeerMessage {
  readonly type: 'RequestVoteResponse'
  readonly granted: boolean
}

/** Raft §5.3. */
export interface AppendEntries extends PeerMessage {
  readonly type: 'AppendEntries'
  readonly prevLogIndex: number
  readonly prevLogTerm: number
  readonly entries: readonly Entry[]
  readonly leaderCommit: number
}

/**
 * On success `matchIndex` is the last index known to match the leader's log. On rejection
 * `rejectedIndex` is the refused prevLogIndex, and (`hintIndex`, `hintTerm`) the follower's
 * last entry that may still match (its term ≤ prevLogTerm), so the leader skips whole
 * conflicting terms instead of probing one index per round trip.
 */
export interface AppendEntriesResponse extends PeerMessage {
  readonly type: 'AppendEntriesResponse'
  readonly success: boolean
  readonly matchIndex: number
  readonly rejectedIndex: number
  readonly hintIndex: number
  readonly hintTerm: number
}

/** Leader liveness (Raft §5.2) and the ReadIndex confirmation round (thesis §6.4):
 * `readRound` is echoed back. `commit` is capped at what the follower is known to hold. */
export interface Heartbeat extends PeerMessage {
  readonly type: 'Heartbeat'
  readonly commit: number
  readonly readRound: number
}

export interface HeartbeatResponse extends PeerMessage {
  readonly type: 'HeartbeatResponse'
  readonly readRound: number
}

/**
 * Raft §7: one chunk of the leader's snapshot (`offset`, `data`, `done`; see
 * `SnapshotChunk` in @kv/consensus). A chunk that completes the snapshot is answered by an
 * AppendEntriesResponse at the snapshot's index once it is durable; any other chunk by an
 * InstallSnapshotResponse.
 */
export interface InstallSnapshot extends PeerMessage, SnapshotChunk {
  readonly type: 'InstallSnapshot'
}

/** The bytes of snapshot `snapshotIndex` the follower holds (`offset`); `accepted` is false
 * when it could not use the chunk (a gap before it, or a snapshot it is not assembling). */
export interface InstallSnapshotResponse extends PeerMessage, SnapshotChunkAck {
  readonly type: 'InstallSnapshotResponse'
}

/** Thesis §3.10: campaign now (leadership transfer). */
export interface TimeoutNow extends PeerMessage {
  readonly type: 'TimeoutNow'
}

export type RaftMessageType = RaftMessage['type']

// ---------------------------------------------------------------------------------------
// The gateway: `step` receives whatever the transport decoded. Everything is checked here
// so that past this point the core may assert.

type Fields = Record<string, unknown>

function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
}

function isEntry(x: unknown): x is Entry {
  if (typeof x !== 'object' || x === null) return false
  const e = x as Fields
  if (!isIndex(e.index) || e.index === 0 || !isIndex(e.term)) return false
  if (e.type === 'noop') return true
  if (e.type === 'membership') return isMembershipEntryBody(e)
  return e.type === 'normal' && e.data instanceof Uint8Array
}

/** Entries must follow prevLogIndex without gaps, with non-decreasing terms no newer than
 * the sender's term (Raft §5.3 log matching relies on this shape). */
function areEntriesWellFormed(m: Fields, term: number): boolean {
  if (!Array.isArray(m.entries) || !isIndex(m.prevLogIndex) || !isIndex(m.prevLogTerm)) return false
  let previousTerm = m.prevLogTerm
  let expectedIndex = m.prevLogIndex + 1
  for (const e of m.entries as unknown[]) {
    if (!isEntry(e) || e.index !== expectedIndex || e.term < previousTerm || e.term > term) return false
    previousTerm = e.term
    expectedIndex++
  }
  return m.prevLogTerm <= term
}

function hasValidBody(type: RaftMessageType, m: Fields, term: number): boolean {
  switch (type) {
    case 'PreVote':
    case 'RequestVote':
      return (
        isIndex(m.lastLogIndex) && isIndex(m.lastLogTerm) && m.lastLogTerm <= term &&
        (type === 'PreVote' || typeof m.transfer === 'boolean')
      )
    case 'PreVoteResponse':
    case 'RequestVoteResponse':
      return typeof m.granted === 'boolean'
    case 'AppendEntries':
      return isIndex(m.leaderCommit) && areEntriesWellFormed(m, term)
    case 'AppendEntriesResponse':
      return (
        typeof m.success === 'boolean' && isIndex(m.matchIndex) && isIndex(m.rejectedIndex) &&
        isIndex(m.hintIndex) && isIndex(m.hintTerm)
      )
    case 'Heartbeat':
      return isIndex(m.commit) && isIndex(m.readRound)
    case 'HeartbeatResponse':
      return isIndex(m.readRound)
    case 'InstallSnapshot':
      return (
        isSnapshotChunk(m, limits.maxMessagePayloadBytes, limits.maxSnapshotBytes) &&
        (m.snapshotTerm as number) <= term
      )
    case 'InstallSnapshotResponse':
      return isSnapshotChunkAck(m, limits.maxSnapshotBytes)
    case 'TimeoutNow':
      return true
    default:
      return unknownType(type)
  }
}

function unknownType(_type: never): false {
  return false
}

const messageTypes: ReadonlySet<string> = new Set<RaftMessageType>([
  'PreVote', 'PreVoteResponse', 'RequestVote', 'RequestVoteResponse', 'AppendEntries',
  'AppendEntriesResponse', 'Heartbeat', 'HeartbeatResponse', 'InstallSnapshot', 'InstallSnapshotResponse', 'TimeoutNow',
])

/**
 * Returns `raw` as a typed message if it is well formed, addressed to `self` and sent by
 * another node `knows` accepts; otherwise null (the caller drops it).
 */
export function parseRaftMessage(raw: unknown, self: NodeId, knows: (from: NodeId, type: RaftMessageType) => boolean): RaftMessage | null {
  if (typeof raw !== 'object' || raw === null) return null
  const m = raw as Fields
  if (typeof m.type !== 'string' || !messageTypes.has(m.type)) return null
  if (typeof m.from !== 'string' || m.from === self || m.to !== self || !knows(m.from, m.type as RaftMessageType)) return null
  if (!isIndex(m.term)) return null
  if (!hasValidBody(m.type as RaftMessageType, m, m.term)) return null
  return raw as RaftMessage
}
