import { assert, takeWithinBytes, type NodeId } from '@kv/consensus'
import type { AppendEntries, AppendEntriesResponse, Heartbeat, HeartbeatResponse } from './messages.js'
import type { Progress } from './progress.js'
import type { RaftNode } from './raft.js'
import { onReadAck, releaseReadsAwaitingCommit } from './read-index.js'
import { onSnapshotHeartbeat, sendSnapshot } from './snapshot.js'
import { maybeSendTimeoutNow } from './transfer.js'

function progressOf(r: RaftNode, peer: NodeId): Progress {
  const pr = r.progress.get(peer)
  assert(pr !== undefined, `no progress for ${peer}`)
  return pr
}

/**
 * Sends `to` the entries it needs next (Raft §5.3), at most maxEntriesPerMessage of them and
 * maxBytesPerMessage of their bytes (so that the message fits a transport frame), unless its
 * flow control is paused. Returns true if it sent entries (so the caller may
 * try again: pipelining fills the follower's window).
 */
export function sendAppend(r: RaftNode, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = progressOf(r, to)
  if (pr.isPaused()) return false
  const prevLogIndex = pr.nextIndex - 1
  assert(prevLogIndex <= r.log.lastIndex(), `nextIndex ${pr.nextIndex} of ${to} beyond the log`)
  const prevLogTerm = r.log.term(prevLogIndex)
  if (prevLogTerm === undefined) {
    // Raft §7: the entries it needs are compacted away.
    sendSnapshot(r, to, pr)
    return false
  }
  const end = Math.min(r.log.lastIndex() + 1, pr.nextIndex + r.config.maxEntriesPerMessage)
  const entries = takeWithinBytes(r.log.slice(pr.nextIndex, end), r.options.maxBytesPerMessage)
  if (entries.length === 0 && !sendIfEmpty) return false
  // The leader's AppendEntries may leave before its own copy is durable (thesis §10.2.1).
  r.send({ type: 'AppendEntries', to, prevLogIndex, prevLogTerm, entries, leaderCommit: r.log.commitIndex }, 'now')
  pr.onEntriesSent(entries.at(-1)?.index ?? null)
  pr.commitSent = Math.max(pr.commitSent, r.log.commitIndex)
  return entries.length > 0
}

/** Fills `to`'s window: one message in probe state, up to maxInflightMessages in replicate. */
function sendAppends(r: RaftNode, to: NodeId): void {
  while (sendAppend(r, to, false)) {
    // each iteration advances nextIndex or pauses the follower
  }
}

/**
 * Called when the Ready is built: everything proposed since the last Ready goes out in as
 * few messages as the batch limit allows, instead of one message per proposal.
 */
export function flushAppends(r: RaftNode): void {
  if (!r.appendsPending && !r.commitPending) return
  for (const peer of r.peers) {
    // A new commitIndex reaches followers even if no entry is new (Raft §5.3): at once to an
    // idle follower; one with AppendEntries in flight learns it from the next one (or the next
    // heartbeat). Under load, with Readys pipelined, the commit moves at almost every
    // acknowledgement: an empty AppendEntries (and its acknowledgement) for each would double
    // the messages of the write path, and followers' commit is not on a write's critical path.
    const pr = progressOf(r, peer)
    const busy = pr.state === 'replicate' && pr.inflight.length > 0
    const notify = r.commitPending && pr.commitSent < r.log.commitIndex && !busy
    if (!sendAppend(r, peer, notify)) continue
    sendAppends(r, peer)
  }
  r.appendsPending = r.commitPending = false
}

export function broadcastHeartbeat(r: RaftNode): void {
  const readRound = r.reads.currentRoundId()
  for (const to of r.peers) {
    // Only what the follower is known to hold may be committed on its side.
    const pr = progressOf(r, to)
    const commit = Math.min(pr.matchIndex, r.log.commitIndex)
    r.send({ type: 'Heartbeat', to, commit, readRound }, 'now')
    pr.commitSent = Math.max(pr.commitSent, commit)
  }
}

/**
 * Raft §5.3, §5.4.2: the highest index held durably by a quorum commits, but only if it is
 * of the current term: entries of earlier terms commit indirectly (Figure 8). The leader's
 * own copy counts only once its Ready was advanced (`durableTo`).
 */
export function maybeCommit(r: RaftNode): boolean {
  const matches = quorumMatches(r)
  const quorumIndex = matches[r.quorum - 1] ?? 0
  if (quorumIndex <= r.log.commitIndex || r.log.term(quorumIndex) !== r.term) return false
  return r.log.commitTo(quorumIndex)
}

/**
 * What each current voter holds durably, highest first: the leader's own copy only while it
 * is a voter (thesis §4.2.2: a leader removing itself does not count itself), a learner's
 * never (thesis §4.2.1).
 */
export function quorumMatches(r: RaftNode): number[] {
  const matches = r.membership.voters.map((id) => (id === r.id ? r.log.durableTo : r.progress.get(id)?.matchIndex ?? 0))
  return matches.sort((a, b) => b - a)
}

export function onCommitAdvanced(r: RaftNode): void {
  r.commitPending = true
  releaseReadsAwaitingCommit(r)
}

/** Follower side of Raft §5.3. */
export function onAppendEntries(r: RaftNode, m: AppendEntries): void {
  const commit = r.log.commitIndex
  let { prevLogIndex, entries } = m
  if (prevLogIndex < commit) {
    // Entries up to our commitIndex are committed, hence in the leader's log too (Leader
    // Completeness, §5.4): skip them instead of refusing a late or reordered message.
    const skip = Math.min(entries.length, commit - prevLogIndex)
    entries = entries.slice(skip)
    prevLogIndex += skip
    if (prevLogIndex < commit) {
      respondAppend(r, m.from, { success: true, matchIndex: commit })
      return
    }
  }
  const prevLogTerm = prevLogIndex === m.prevLogIndex ? m.prevLogTerm : r.log.term(prevLogIndex)
  const lastNew = prevLogTerm === undefined ? null : r.log.maybeAppend(prevLogIndex, prevLogTerm, entries)
  if (lastNew === null) {
    const hint = r.log.findConflictByTerm(Math.min(m.prevLogIndex, r.log.lastIndex()), m.prevLogTerm)
    respondAppend(r, m.from, { success: false, rejectedIndex: m.prevLogIndex, hintIndex: hint.index, hintTerm: hint.term })
    return
  }
  r.log.commitTo(Math.min(m.leaderCommit, lastNew))
  respondAppend(r, m.from, { success: true, matchIndex: lastNew })
}

type AppendAnswer = Partial<Pick<AppendEntriesResponse, 'matchIndex' | 'rejectedIndex' | 'hintIndex' | 'hintTerm'>> & {
  readonly success: boolean
}

export function respondAppend(r: RaftNode, to: NodeId, answer: AppendAnswer): void {
  // An acknowledgement promises the entries are durable: it waits for the Ready's sync.
  r.send(
    { type: 'AppendEntriesResponse', to, matchIndex: 0, rejectedIndex: 0, hintIndex: 0, hintTerm: 0, ...answer },
    'afterPersist',
  )
}

/** Leader side of Raft §5.3, with etcd-style flow control (progress.ts). */
export function onAppendEntriesResponse(r: RaftNode, m: AppendEntriesResponse): void {
  const pr = progressOf(r, m.from)
  pr.lastHeardTick = r.leaderTicks
  if (!m.success) {
    // Skip every entry of a conflicting term in one round trip (§5.3, last paragraph).
    const hint = m.hintTerm > 0 ? r.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex
    if (pr.maybeDecreaseTo(m.rejectedIndex, hint)) sendAppends(r, m.from)
    return
  }
  // A follower cannot hold more of our term's log than we do: a stale or bogus answer.
  if (m.matchIndex > r.log.lastIndex()) return
  const wasPaused = pr.isPaused()
  if (pr.maybeUpdate(m.matchIndex)) {
    if (pr.state === 'probe') pr.becomeReplicate()
    else if (pr.state === 'snapshot' && pr.matchIndex + 1 >= r.log.firstIndex()) pr.becomeReplicate()
    // The snapshot arrived but we compacted past it meanwhile: probe, which sends the newer one.
    else if (pr.state === 'snapshot' && pr.matchIndex >= pr.pendingSnapshotIndex) pr.becomeProbe()
    if (maybeCommit(r)) onCommitAdvanced(r)
    // A follower that was paused missed the latest commitIndex: send it even if empty.
    else if (wasPaused) sendAppend(r, m.from, true)
    // Its last AppendEntries in flight carried an older commit (see `flushAppends`).
    else if (pr.inflight.length === 0 && pr.commitSent < r.log.commitIndex) r.commitPending = true
    maybeSendTimeoutNow(r, m.from)
  }
  sendAppends(r, m.from)
}

/** Follower: the leader is alive; the commit it sends is one we are known to hold. */
export function onHeartbeat(r: RaftNode, m: Heartbeat): void {
  r.log.commitTo(Math.min(m.commit, r.log.lastIndex()))
  r.send({ type: 'HeartbeatResponse', to: m.from, readRound: m.readRound }, 'afterPersist')
}

export function onHeartbeatResponse(r: RaftNode, m: HeartbeatResponse): void {
  const pr = progressOf(r, m.from)
  pr.lastHeardTick = r.leaderTicks
  const behind = pr.matchIndex < r.log.lastIndex()
  if (pr.state === 'replicate' && behind && pr.matchIndex === pr.matchAtLastHeartbeat) {
    // No progress for a whole heartbeat interval: a message of the pipeline was lost.
    pr.becomeProbe()
  } else if (pr.state === 'snapshot') {
    onSnapshotHeartbeat(r, m.from, pr) // resends a stalled window of chunks
  }
  pr.matchAtLastHeartbeat = pr.matchIndex
  if (pr.state === 'probe') {
    pr.probeSent = false // the last probe may have been lost
    if (behind) sendAppends(r, m.from)
  }
  maybeSendTimeoutNow(r, m.from)
  onReadAck(r, m.from, m.readRound)
}
