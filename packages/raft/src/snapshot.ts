import { assert, type NodeId } from '@kv/consensus'
import type { InstallSnapshot } from './messages.js'
import type { Progress } from './progress.js'
import type { RaftNode } from './raft.js'
import { respondAppend } from './replication.js'

/** Raft §7: the follower needs entries we compacted; send the whole snapshot at once. */
export function sendSnapshot(r: RaftNode, to: NodeId, pr: Progress): void {
  const snapshot = r.log.snapshot
  assert(snapshot !== null && snapshot.index === r.log.snapshotIndex, 'entries compacted without a snapshot')
  pr.becomeSnapshot(snapshot.index)
  r.send({ type: 'InstallSnapshot', to, snapshot }, 'now')
}

/**
 * Follower side of Raft §7. A snapshot we already hold (committed) is acknowledged at our
 * commitIndex; a newer one replaces the log it covers and goes to the shell in the next
 * Ready. The acknowledgement waits for that Ready's sync.
 */
export function onInstallSnapshot(r: RaftNode, m: InstallSnapshot): void {
  const { snapshot } = m
  if (snapshot.index <= r.log.commitIndex) {
    respondAppend(r, m.from, { success: true, matchIndex: r.log.commitIndex })
    return
  }
  r.log.installSnapshot(snapshot)
  respondAppend(r, m.from, { success: true, matchIndex: snapshot.index })
}
