import { assert, type NodeId, type Snapshot } from '@kv/consensus'
import { sameValue } from './log.js'
import type { InstallSnapshot, Learn } from './messages.js'
import { follow } from './roles.js'
import { sendAfterPersist, sendNow, type PaxosState } from './state.js'

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
}

/** The snapshot covers chosen slots this node does not have: adopt it. Slots above it are
 * kept, since they are still this acceptor's promises. */
export function installSnapshot(s: PaxosState, snapshot: Snapshot): void {
  if (snapshot.index <= s.commitIndex) return
  s.log.installSnapshot(snapshot)
  s.commitIndex = snapshot.index
  s.handedOut = Math.max(s.handedOut, snapshot.index)
  s.out.snapshot = snapshot
  for (const slot of s.out.entries.keys()) if (slot <= snapshot.index) s.out.entries.delete(slot)
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
    if (held === undefined || !sameValue(held, entry)) {
      s.log.set(entry)
      s.out.persist(entry)
    }
    s.commitIndex = entry.index
  }
  if (current) sendAfterPersist(s, msg.from, { type: 'learn-reply', term: msg.term, commitIndex: s.commitIndex })
}

export function onInstallSnapshot(s: PaxosState, msg: InstallSnapshot): void {
  if (s.role === 'leader') return
  const current = msg.term >= s.promisedBallot
  if (current) follow(s, msg.from, msg.term)
  installSnapshot(s, msg.snapshot)
  if (current) sendAfterPersist(s, msg.from, { type: 'learn-reply', term: msg.term, commitIndex: s.commitIndex })
}

/**
 * Leader side of catch-up: `peer` reported chosen watermark `peerCommit`, below ours. Send
 * it the next chosen values, or the snapshot when they are compacted away. One chain per
 * peer at a time; a heartbeat round restarts a chain whose message was lost.
 */
export function sendCatchUp(s: PaxosState, peer: NodeId, peerCommit: number): void {
  const proposer = s.proposer
  const progress = proposer?.peers.get(peer)
  if (proposer === null || progress === undefined) return
  if (progress.learnOutstanding || peerCommit >= s.commitIndex) return
  progress.learnOutstanding = true
  const term = proposer.ballot
  if (peerCommit + 1 < s.log.firstIndex) {
    const snapshot = s.log.snapshot
    assert(snapshot !== null, 'compacted slots without a snapshot')
    sendNow(s, peer, { type: 'install-snapshot', term, snapshot })
    return
  }
  const last = Math.min(s.commitIndex, peerCommit + s.config.maxEntriesPerMessage)
  const entries = s.log.range(peerCommit + 1, last)
  sendNow(s, peer, { type: 'learn', term, commitIndex: s.commitIndex, entries })
}
