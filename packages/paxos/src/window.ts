import type { Entry } from '@kv/consensus'
import { writeSlot, type LeaderState, type PaxosState } from './state.js'

/**
 * The leader's side of the alpha rule (configs.ts): it proposes in slot j only once every
 * slot up to j − α is chosen, so that the membership whose quorum chooses j is known, and
 * fixed, before j goes out. That is, at most α slots are in flight past the chosen prefix. A
 * slot taken beyond the window waits in `LeaderState.waiting` (nothing of it is written or
 * sent) and goes out as the watermark moves.
 */

/** Phase 2a for `entry` at our ballot: accept it ourselves and start collecting votes. */
export function propose(s: PaxosState, leader: LeaderState, entry: Entry): void {
  writeSlot(s, entry)
  // The leader's own acceptance counts once it is durable: see `countOwnAcceptance`.
  leader.votes.set(entry.index, new Set())
}

/** The leader took slot `entry.index` (slots are taken in order): propose it now, or once the window allows. */
export function take(s: PaxosState, leader: LeaderState, entry: Entry): void {
  if (leader.waiting.length === 0 && entry.index <= s.commitIndex + s.options.alpha) propose(s, leader, entry)
  else leader.waiting.push(entry)
}

/**
 * The watermark moved: propose the waiting slots the window now covers. A window blocked by
 * a hole this leader left on purpose (`options.skipSlots`, a test switch) gets a no-op there,
 * or it would stay blocked for the rest of the ballot.
 */
export function releaseWaiting(s: PaxosState, leader: LeaderState): void {
  for (;;) {
    const next = leader.waiting[0]
    if (next === undefined) return
    if (next.index <= s.commitIndex + s.options.alpha) {
      leader.waiting.shift()
      propose(s, leader, next)
      continue
    }
    const hole = s.commitIndex + 1
    if (leader.votes.has(hole) || hole >= next.index) return
    propose(s, leader, { type: 'noop', index: hole, term: leader.ballot })
    // Replication went past the empty slot (it had nothing to send there): go back for it.
    for (const progress of leader.peers.values()) progress.next = Math.min(progress.next, hole)
    return
  }
}

/** The first slot not proposed yet (replication never looks at or past it). */
export function proposedBelow(leader: LeaderState): number {
  return leader.waiting[0]?.index ?? leader.nextSlot
}
