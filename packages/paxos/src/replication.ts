import { assert, entryBytes, isVoter, type Entry, type NodeId } from '@kv/consensus'
import type { InflightAccept, LeaderState, PaxosState, PeerProgress } from './state.js'
import { sendNow } from './state.js'
import { proposedBelow } from './window.js'

/**
 * Phase 2 fan-out, run once per `ready()` so that every proposal made since the last Ready
 * travels in as few Accept messages as possible (batching), with up to
 * `maxInflightMessages` unanswered Accepts per acceptor (pipelining).
 *
 * Loss. Each Accept in flight is remembered with its slots. One that is still unanswered
 * when an Accept sent after it is answered was overtaken, so it (or its answer) was most
 * likely lost: its slots go again at once ("fast retransmit"; a duplicate costs one
 * idempotent accept). Any other is sent again when the acceptor's retransmission timer
 * expires, about one round trip plus a tick. A slot stops being sent once the acceptor has
 * accepted it or it is chosen (the acceptor then learns it through the watermark or
 * catch-up). Without this, one lost Accept held every later slot back (slots are chosen in
 * order) until a heartbeat round found the window stalled.
 */

/** `slot` still needs `peer`'s acceptance: undecided, not accepted by it at this ballot, and
 * `peer` is an acceptor of the slot's membership (learners and others never get Accepts). */
function awaits(s: PaxosState, leader: LeaderState, peer: NodeId, slot: number): boolean {
  const votes = leader.votes.get(slot)
  return votes !== undefined && !votes.has(peer) && isVoter(s.configs.forSlot(slot), peer)
}

/** The next batch for `peer`: undecided slots it has not accepted, from `progress.next`; at
 * most maxEntriesPerMessage of them and maxBytesPerMessage of their bytes (one larger entry
 * goes alone), so that an Accept fits in a transport frame. */
function nextBatch(s: PaxosState, leader: LeaderState, peer: NodeId, progress: PeerProgress): number[] {
  const batch: number[] = []
  let bytes = 0
  let slot = Math.max(progress.next, s.commitIndex + 1)
  // Slots waiting for the window (window.ts) are not proposed yet: stop before them.
  const end = proposedBelow(leader)
  while (slot < end && batch.length < s.config.maxEntriesPerMessage) {
    // No vote set: a skipped slot (a hole on purpose) or one already chosen, which the
    // replica learns through the watermark or catch-up instead.
    const entry = s.log.get(slot)
    if (awaits(s, leader, peer, slot) && entry !== undefined) {
      bytes += entryBytes(entry)
      if (batch.length > 0 && bytes > s.options.maxBytesPerMessage) break
      batch.push(slot)
    }
    slot += 1
  }
  progress.next = slot
  return batch
}

function sendAccept(s: PaxosState, leader: LeaderState, peer: NodeId, progress: PeerProgress, slots: readonly number[], copies: number): void {
  const entries: Entry[] = slots.map((slot) => {
    const entry = s.log.get(slot)
    assert(entry !== undefined && entry.term === leader.ballot, () => `slot ${slot} holds no proposal of ballot ${leader.ballot}`)
    return entry
  })
  progress.inflight.push({ slots, sentTick: leader.ticks, copies })
  progress.commitSent = s.commitIndex
  sendNow(s, peer, { type: 'accept', term: leader.ballot, commitIndex: s.commitIndex, entries })
}

/** Sends `accept`'s slots that still await `peer` again, as a new Accept at the window's end. */
function resend(s: PaxosState, leader: LeaderState, peer: NodeId, progress: PeerProgress, accept: InflightAccept): void {
  progress.inflight = progress.inflight.filter((a) => a !== accept)
  const slots = accept.slots.filter((slot) => awaits(s, leader, peer, slot))
  if (slots.length > 0) sendAccept(s, leader, peer, progress, slots, accept.copies + 1)
}

/** Forgets Accepts whose every slot was accepted by `peer` or chosen meanwhile. */
function settle(s: PaxosState, leader: LeaderState, peer: NodeId, progress: PeerProgress): void {
  progress.inflight = progress.inflight.filter((a) => a.slots.some((slot) => awaits(s, leader, peer, slot)))
}

function sendAccepts(s: PaxosState, leader: LeaderState, peer: NodeId, progress: PeerProgress): void {
  settle(s, leader, peer, progress)
  while (progress.inflight.length < s.config.maxInflightMessages) {
    const slots = nextBatch(s, leader, peer, progress)
    if (slots.length === 0) return
    sendAccept(s, leader, peer, progress, slots, 1)
  }
}

function sameSlots(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((slot, i) => slot === b[i])
}

/**
 * `peer` answered the Accept of `slots` (its votes are counted already). Measures the round
 * trip, and resends at once every Accept sent before that one and still unanswered.
 */
export function onAcceptAnswered(s: PaxosState, leader: LeaderState, peer: NodeId, progress: PeerProgress, slots: readonly number[]): void {
  const answered = progress.inflight.findIndex((a) => sameSlots(a.slots, slots))
  if (answered < 0) return settle(s, leader, peer, progress) // an answer to a copy already replaced
  const accept = progress.inflight[answered]!
  settle(s, leader, peer, progress)
  // The answer to a copy could be the answer to the original, sent before everything here.
  if (accept.copies > 1) return
  progress.retransmit.sample(leader.ticks - accept.sentTick)
  const overtaken = progress.inflight.slice(0, answered).filter((a) => a.copies === 1)
  for (const a of overtaken) if (progress.inflight.includes(a)) resend(s, leader, peer, progress, a)
}

/** One leader tick: Accepts unanswered for longer than the acceptor's timeout go again. */
export function retransmitExpired(s: PaxosState, leader: LeaderState): void {
  for (const [peer, progress] of leader.peers) {
    settle(s, leader, peer, progress)
    const expired = progress.inflight.filter((a) => progress.retransmit.expired(a.sentTick, leader.ticks, a.copies))
    for (const a of expired) resend(s, leader, peer, progress, a)
  }
}

/** Sends pending Accepts to every acceptor, then the new chosen watermark to those whose
 * Accept did not already carry it and that have none in flight (the next Accept, or the next
 * Ready once its window drained, or a heartbeat carries it): with Readys pipelined the
 * watermark moves at almost every Accepted, and a Commit per move is a message per Accepted. */
export function flushReplication(s: PaxosState): void {
  const leader = s.proposer
  if (leader === null) return
  for (const [peer, progress] of leader.peers) {
    sendAccepts(s, leader, peer, progress)
    if (progress.commitSent < s.commitIndex && progress.inflight.length === 0) {
      progress.commitSent = s.commitIndex
      sendNow(s, peer, { type: 'commit', term: leader.ballot, commitIndex: s.commitIndex })
    }
  }
}

/** Checked with the core's invariants: the window is bounded, and no undecided slot the
 * acceptor lacks is forgotten (below `next` and in no Accept in flight, it would never go). */
export function checkReplication(s: PaxosState, leader: LeaderState): void {
  for (const [peer, progress] of leader.peers) {
    assert(progress.inflight.length <= s.config.maxInflightMessages, () => `${progress.inflight.length} Accepts in flight to ${peer}`)
    const tracked = new Set(progress.inflight.flatMap((a) => a.slots))
    for (const slot of leader.votes.keys()) {
      if (slot < progress.next && awaits(s, leader, peer, slot) && s.log.get(slot) !== undefined) {
        assert(tracked.has(slot), () => `slot ${slot} awaits ${peer} but is in no Accept in flight`)
      }
    }
  }
}
