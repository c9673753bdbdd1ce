import { entryBytes, type Entry, type NodeId } from '@kv/consensus'
import type { LeaderState, PaxosState, PeerProgress } from './state.js'
import { sendNow } from './state.js'

/**
 * Phase 2 fan-out, run once per `ready()` so that every proposal made since the last Ready
 * travels in as few Accept messages as possible (batching), with up to
 * `maxInflightMessages` unanswered Accepts per acceptor (pipelining).
 */

/** The next batch for `peer`: undecided slots it has not accepted, from `progress.next`; at
 * most maxEntriesPerMessage of them and maxBytesPerMessage of their bytes (one larger entry
 * goes alone), so that an Accept fits in a transport frame. */
function nextBatch(s: PaxosState, leader: LeaderState, peer: NodeId, progress: PeerProgress): Entry[] {
  const batch: Entry[] = []
  let bytes = 0
  let slot = Math.max(progress.next, s.commitIndex + 1)
  while (slot < leader.nextSlot && batch.length < s.config.maxEntriesPerMessage) {
    // No vote set: a skipped slot (a hole on purpose) or one already chosen, which the
    // replica learns through the watermark or catch-up instead.
    const votes = leader.votes.get(slot)
    const entry = s.log.get(slot)
    if (votes !== undefined && !votes.has(peer) && entry !== undefined) {
      bytes += entryBytes(entry)
      if (batch.length > 0 && bytes > s.options.maxBytesPerMessage) break
      batch.push(entry)
    }
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
 * Called each heartbeat round. A window that made no progress for a whole round lost a
 * message (Accepts are never retried one by one): rewind to the first undecided slot.
 * Slots the peer already accepted are skipped when resending.
 */
export function resendStalled(s: PaxosState, leader: LeaderState): void {
  for (const progress of leader.peers.values()) {
    if (progress.inflight > 0 && !progress.progressed) {
      progress.inflight = 0
      progress.next = s.commitIndex + 1
    }
    progress.progressed = false
  }
}
