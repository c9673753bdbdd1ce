import { assert, SnapshotSender, takeWithinBytes, type NodeId, type Snapshot } from '@kv/consensus'
import { Configs, noteChosen } from './configs.js'
import { SNAPSHOT_STALL_ROUNDS } from './limits.js'
import { sameValue } from './log.js'
import type { InstallSnapshot, Learn, SnapshotReply } from './messages.js'
import { follow } from './roles.js'
import { sendAfterPersist, sendNow, writeSlot, type PaxosState, type PeerProgress } from './state.js'

/**
 * Learners ("Paxos Made Simple" §2.3): how a replica finds out which values are chosen.
 * A replica never decides by itself; it learns from the leader, either by a watermark
 * (cheap: its own accepted slots are the chosen ones) or by being sent the chosen values.
 */

/**
 * The leader of `ballot` says every slot up to `leaderCommit` is chosen. A slot this node
 * accepted at exactly `ballot` holds that leader's one proposal for it, which is the chosen
 * value; any other slot may hold a value that lost, so learning stops there and waits
 * for catch-up (`Learn`).
 */
export function learnCommit(s: PaxosState, ballot: number, leaderCommit: number): void {
  if (s.role === 'leader') return
  while (s.commitIndex < leaderCommit) {
    const next = s.log.get(s.commitIndex + 1)
    if (next === undefined || next.term !== ballot) break
    s.commitIndex += 1
  }
  noteChosen(s)
}

/** The snapshot covers chosen slots this node does not have: adopt it. Slots above it are
 * kept, since they are still this acceptor's promises. */
export function installSnapshot(s: PaxosState, snapshot: Snapshot): void {
  if (snapshot.index <= s.commitIndex) return
  s.log.installSnapshot(snapshot)
  s.commitIndex = snapshot.index
  // The leader's snapshot says which memberships govern the slots after it.
  if (snapshot.membership !== undefined) s.configs = Configs.fromSnapshot(snapshot, s.config.members, s.options.alpha)
  else s.configs.scannedTo = Math.max(s.configs.scannedTo, snapshot.index)
  s.handedOut = Math.max(s.handedOut, snapshot.index)
  s.out.snapshot = snapshot
  for (const slot of s.out.entries.keys()) if (slot <= snapshot.index) s.out.entries.delete(slot)
  s.unsynced.dropThrough(snapshot.index)
}

/** Chosen values are facts, whoever tells them; only a current leader is answered. */
export function onLearn(s: PaxosState, msg: Learn): void {
  if (s.role === 'leader') return
  const current = msg.term >= s.promisedBallot
  if (current) follow(s, msg.from, msg.term)
  for (const entry of msg.entries) {
    if (entry.index > msg.commitIndex || entry.index > s.commitIndex + 1) break
    if (entry.index <= s.commitIndex) continue
    const held = s.log.get(entry.index)
    if (held === undefined || !sameValue(held, entry)) writeSlot(s, entry)
    s.commitIndex = entry.index
  }
  noteChosen(s)
  if (current) sendAfterPersist(s, msg.from, { type: 'learn-reply', term: msg.term, commitIndex: s.commitIndex })
}

/**
 * One chunk of the current leader's snapshot. Chunks are assembled in memory (one snapshot
 * at a time, see `SnapshotAssembly`); the snapshot is adopted only once the last one
 * arrived, and goes to the shell whole in the next Ready. Its LearnReply waits for that
 * Ready's sync; so do the chunk acknowledgements, which may speak for a ballot just promised.
 * A stale leader's chunks are ignored: it learns of the newer ballot from heartbeats' rejects.
 */
export function onInstallSnapshot(s: PaxosState, msg: InstallSnapshot): void {
  if (s.role === 'leader' || msg.term < s.promisedBallot) return
  follow(s, msg.from, msg.term)
  if (msg.snapshotIndex <= s.commitIndex) {
    // Already chosen here: nothing to assemble (a duplicate, or a transfer overtaken).
    const assembling = s.snapshotAssembly.assembling
    if (assembling !== null && assembling.index <= s.commitIndex) s.snapshotAssembly.clear()
    sendAfterPersist(s, msg.from, { type: 'learn-reply', term: msg.term, commitIndex: s.commitIndex })
    return
  }
  const outcome = s.snapshotAssembly.receive(msg.term, msg)
  if (outcome.type === 'ack') {
    sendAfterPersist(s, msg.from, { type: 'snapshot-reply', term: msg.term, ...outcome.ack })
    return
  }
  installSnapshot(s, outcome.snapshot)
  sendAfterPersist(s, msg.from, { type: 'learn-reply', term: msg.term, commitIndex: s.commitIndex })
}

/**
 * Leader side of catch-up: `peer` reported chosen watermark `peerCommit`, below ours. Send
 * it the next chosen values (at most maxEntriesPerMessage and maxBytesPerMessage of them),
 * or the snapshot, in chunks, when they are compacted away. One chain per peer at a time; a
 * heartbeat round restarts a chain whose message was lost, and a snapshot transfer whose
 * window made no progress for `SNAPSHOT_STALL_ROUNDS` rounds resumes from the acknowledged offset.
 */
export function sendCatchUp(s: PaxosState, peer: NodeId, peerCommit: number): void {
  const proposer = s.proposer
  const progress = proposer?.peers.get(peer)
  if (proposer === null || progress === undefined) return
  if (progress.snapshotTransfer !== null && peerCommit >= progress.snapshotTransfer.snapshot.index) {
    progress.snapshotTransfer = null // it has the snapshot
  }
  if (progress.learnOutstanding || peerCommit >= s.commitIndex) return
  progress.learnOutstanding = true
  const term = proposer.ballot
  if (progress.snapshotTransfer !== null) {
    // A heartbeat round passed (it cleared learnOutstanding) with the transfer under way.
    const transfer = progress.snapshotTransfer
    if (!transfer.onRound()) return
    // Stalled. If the replica holds nothing of it and we have a newer snapshot, send that one.
    const newer = transfer.ackedBytes === 0 && s.log.snapshotIndex > transfer.snapshot.index
    if (!newer) return sendSnapshotChunks(s, peer, progress, term)
    progress.snapshotTransfer = null
  }
  if (peerCommit + 1 < s.log.firstIndex) {
    const snapshot = s.log.snapshot
    assert(snapshot !== null, 'compacted slots without a snapshot')
    progress.snapshotTransfer = new SnapshotSender(
      snapshot, s.options.maxSnapshotChunkBytes, s.config.maxInflightMessages, SNAPSHOT_STALL_ROUNDS,
    )
    sendSnapshotChunks(s, peer, progress, term)
    return
  }
  const last = Math.min(s.commitIndex, peerCommit + s.config.maxEntriesPerMessage)
  const entries = takeWithinBytes(s.log.range(peerCommit + 1, last), s.options.maxBytesPerMessage)
  sendNow(s, peer, { type: 'learn', term, commitIndex: s.commitIndex, entries })
}

function sendSnapshotChunks(s: PaxosState, peer: NodeId, progress: PeerProgress, term: number): void {
  const transfer = progress.snapshotTransfer
  assert(transfer !== null, `no snapshot transfer to ${peer}`)
  for (const chunk of transfer.take()) sendNow(s, peer, { type: 'install-snapshot', term, ...chunk })
}

/** The replica holds `offset` bytes of the snapshot we are sending it: send what follows. */
export function onSnapshotReply(s: PaxosState, msg: SnapshotReply): void {
  const leader = s.proposer
  const progress = leader?.peers.get(msg.from)
  if (leader === null || progress === undefined || msg.term !== leader.ballot) return
  progress.lastHeardTick = leader.ticks
  const transfer = progress.snapshotTransfer
  if (transfer === null || transfer.snapshot.index !== msg.snapshotIndex) return // stale
  transfer.onAck(msg)
  sendSnapshotChunks(s, msg.from, progress, leader.ballot)
}
