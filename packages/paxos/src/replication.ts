import type { Entry, NodeId } from '@kv/consensus'
import type { LeaderState, PaxosState, PeerProgress } from './state.js'
import { sendNow } from './state.js'

/**
 * Phase 2 fan-out, run once per `ready()` so that every proposal made since the last Ready
 * travels in as few Accept messages as possible (batching), with up to
 * `maxInflightMessages` unanswered Accepts per acceptor (pipelining).
 */

/** The next batch for `peer`: undecided slots it has not accepted, from `progress.next`. */
function nextBatch(s: PaxosState, leader: LeaderState, peer: NodeId, progress: PeerProgress): Entry[] {
  const batch: Entry[] = []
  let slot = Math.max(progress.next, s.commitIndex + 1)
  while (slot < leader.nextSlot && batch.length < s.config.maxEntriesPerMessage) {
    // No vote set: a skipped slot (a hole on purpose) or one already chosen, which the
    // replica learns through the watermark or catch-up instead.
    const votes = leader.votes.get(slot)
    const entry = s.log.get(slot)
    if (votes !== undefined && !votes.has(peer) && entry !== undefined) batch.push(entry)
    slot += 1
  }
  progress.next = slot
  return batch
}

function sendAccepts(s: PaxosState, leader: LeaderState, peer: NodeId, progress: PeerProgress): void {
  while (progress.inflight < s.config.maxInflightMessages) {
    const entries = nextBatch(s, leader, peer, progress)
    if (entries.length === 0) return
    progress.inflight += 1
    progress.commitSent = s.commitIndex
    sendNow(s, peer, { type: 'accept', term: leader.ballot, commitIndex: s.commitIndex, entries })
  }
}

/** Sends pending Accepts to every acceptor, then the new chosen watermark to those whose
 * Accept did not already carry it. */
export function flushReplication(s: PaxosState): void {
  const leader = s.proposer
  if (leader === null) return
  for (const [peer, progress] of leader.peers) {
    sendAccepts(s, leader, peer, progress)
    if (progress.commitSent < s.commitIndex) {
      progress.commitSent = s.commitIndex
      sendNow(s, peer, { type: 'commit', term: leader.ballot, commitIndex: s.commitIndex })
    }
  }
}

/**
 * Called each heartbeat round. A peer that made no progress for a whole round while slots it
 * was sent are still undecided lost a message (Accepts are never retried one by one): rewind
 * to the first undecided slot. Slots the peer already accepted are skipped when resending.
 * Not only when Accepts look in flight: a duplicated Accepted reply can bring `inflight` to
 * zero while a lost Accept's slot sits behind `next`, and would never be sent again.
 */
export function resendStalled(s: PaxosState, leader: LeaderState): void {
  for (const progress of leader.peers.values()) {
    if (!progress.progressed && (progress.inflight > 0 || progress.next > s.commitIndex + 1)) {
      progress.inflight = 0
      progress.next = s.commitIndex + 1
    }
    progress.progressed = false
  }
}
