import { assert, SnapshotSender, type NodeId } from '@kv/consensus'
import { limits } from './limits.js'
import type { InstallSnapshot, InstallSnapshotResponse } from './messages.js'
import type { Progress } from './progress.js'
import type { RaftNode } from './raft.js'
import { respondAppend } from './replication.js'

/**
 * Raft §7, in chunks: a follower that needs entries the leader compacted gets the leader's
 * snapshot as InstallSnapshot chunks of at most `maxSnapshotChunkBytes`, at most
 * `maxInflightMessages` of them unacknowledged. The follower acknowledges each chunk with the
 * bytes it holds; a lost chunk is resent from there (see `SnapshotSender`), never from 0 unless
 * the follower lost everything it held (a restart, a new leader, another snapshot).
 */

/** The follower needs entries we compacted: start sending our snapshot. */
export function sendSnapshot(r: RaftNode, to: NodeId, pr: Progress): void {
  const snapshot = r.log.snapshot
  assert(snapshot !== null && snapshot.index === r.log.snapshotIndex, 'entries compacted without a snapshot')
  const transfer = new SnapshotSender(
    snapshot, r.options.maxSnapshotChunkBytes, r.config.maxInflightMessages, limits.snapshotRetryHeartbeats,
  )
  pr.becomeSnapshot(transfer)
  sendSnapshotChunks(r, to, pr)
}

function sendSnapshotChunks(r: RaftNode, to: NodeId, pr: Progress): void {
  const transfer = pr.transfer
  assert(transfer !== null, `${to} has no snapshot transfer`)
  // Like AppendEntries, a chunk of a snapshot we hold durably needs nothing of this Ready.
  for (const chunk of transfer.take()) r.send({ type: 'InstallSnapshot', to, ...chunk }, 'now')
}

export function onInstallSnapshotResponse(r: RaftNode, m: InstallSnapshotResponse): void {
  const pr = r.progress.get(m.from)
  assert(pr !== undefined, `no progress for ${m.from}`)
  pr.lastHeardTick = r.leaderTicks
  const transfer = pr.transfer
  // An answer about another transfer (an earlier one, or one already finished) is stale.
  if (pr.state !== 'snapshot' || transfer === null || transfer.snapshot.index !== m.snapshotIndex) return
  transfer.onAck(m)
  sendSnapshotChunks(r, m.from, pr)
}

/**
 * A heartbeat answer from a follower in snapshot state. A window with no acknowledgement for
 * `snapshotRetryHeartbeats` rounds is resent from the acknowledged offset; a transfer the
 * follower holds nothing of restarts with our newest snapshot if we made a newer one since.
 */
export function onSnapshotHeartbeat(r: RaftNode, to: NodeId, pr: Progress): void {
  const transfer = pr.transfer
  assert(transfer !== null, `${to} has no snapshot transfer`)
  if (!transfer.onRound()) return
  if (transfer.ackedBytes === 0 && (r.log.snapshot?.index ?? 0) > transfer.snapshot.index) {
    sendSnapshot(r, to, pr)
    return
  }
  sendSnapshotChunks(r, to, pr)
}

/**
 * Follower side of Raft §7. Chunks are assembled in memory (at most one snapshot at a time,
 * see `SnapshotAssembly`); the snapshot replaces the log it covers only once the last chunk
 * arrived, and goes to the shell whole in the next Ready. The answer to the last chunk waits
 * for that Ready's sync; so do the chunk acknowledgements, which may speak for a term this
 * node just adopted. A snapshot we already hold (committed) is acknowledged at our commitIndex.
 */
export function onInstallSnapshot(r: RaftNode, m: InstallSnapshot): void {
  const commit = r.log.commitIndex
  if (m.snapshotIndex <= commit) {
    const assembling = r.snapshotAssembly.assembling
    if (assembling !== null && assembling.index <= commit) r.snapshotAssembly.clear()
    respondAppend(r, m.from, { success: true, matchIndex: commit })
    return
  }
  const outcome = r.snapshotAssembly.receive(m.term, m)
  if (outcome.type === 'ack') {
    r.send({ type: 'InstallSnapshotResponse', to: m.from, ...outcome.ack }, 'afterPersist')
    return
  }
  r.log.installSnapshot(outcome.snapshot)
  respondAppend(r, m.from, { success: true, matchIndex: outcome.snapshot.index })
}
