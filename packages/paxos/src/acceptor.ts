import { assert, takeWithinBytes, type NodeId } from '@kv/consensus'
import { learnCommit } from './learner.js'
import { sameValue } from './log.js'
import type { Accept, Commit, Heartbeat, Prepare } from './messages.js'
import { follow, observeBallot, resetElectionTimer } from './roles.js'
import { sendAfterPersist, sendNow, writeSlot, type PaxosState } from './state.js'

/**
 * The acceptor ("Paxos Made Simple" §2.2, "Paxos Made Moderately Complex" §3 Acceptor).
 * Its two rules: promise a ballot only if it is at least every ballot promised before, and
 * accept a proposal only at a ballot at least the promised one. Its replies announce
 * durable state, so they go out only after the sync (`messagesAfterPersist`).
 */

function reject(s: PaxosState, to: NodeId): void {
  sendNow(s, to, { type: 'reject', term: s.promisedBallot })
}

/**
 * Phase 1b, for every slot above the candidate's watermark at once (Multi-Paxos), from
 * `fromSlot` on and at most `maxBytesPerMessage` of slots per Promise (`complete` says
 * whether more follow; the candidate asks again for the rest).
 */
export function onPrepare(s: PaxosState, msg: Prepare): void {
  if (msg.term < s.promisedBallot) return reject(s, msg.from)
  if (msg.term > s.promisedBallot) {
    observeBallot(s, msg.term)
    s.leader = null
  }
  // Slots from `fromSlot` that our snapshot covers are chosen values we can no longer report
  // (see `isBehindSnapshot`): the candidate cannot lead with this promise and steps aside, so
  // it must not defer our own candidacy. Otherwise a promise defers it, as a Raft vote does.
  const behind = s.log.snapshotIndex >= msg.fromSlot
  if (!behind) resetElectionTimer(s)
  const report = behind ? [] : s.log.acceptedAbove(msg.fromSlot - 1)
  const accepted = takeWithinBytes(report, s.options.maxBytesPerMessage)
  sendAfterPersist(s, msg.from, {
    type: 'promise',
    term: msg.term,
    commitIndex: s.commitIndex,
    fromSlot: msg.fromSlot,
    accepted,
    complete: !behind && accepted.length === report.length,
    snapshotIndex: s.log.snapshotIndex,
  })
}

/** Phase 2b for a batch of slots; also learns the leader's chosen watermark. */
export function onAccept(s: PaxosState, msg: Accept): void {
  if (msg.term < s.promisedBallot) return reject(s, msg.from)
  follow(s, msg.from, msg.term)
  for (const entry of msg.entries) {
    // A compacted slot is chosen and applied; the leader's value for it is the chosen one,
    // so acknowledging it without storing anything is truthful.
    if (entry.index <= s.log.snapshotIndex) continue
    const held = s.log.get(entry.index)
    if (entry.index <= s.commitIndex && held !== undefined) {
      // Paxos safety: once chosen, every higher ballot proposes the same value.
      assert(sameValue(held, entry), () => `slot ${entry.index} is chosen with another value`)
    }
    writeSlot(s, entry)
  }
  learnCommit(s, msg.term, msg.commitIndex)
  sendAfterPersist(s, msg.from, {
    type: 'accepted',
    term: msg.term,
    slots: msg.entries.map((e) => e.index),
    commitIndex: s.commitIndex,
  })
}

/** Liveness, the chosen watermark, and (when `readRound` > 0) a read barrier confirmation:
 * answering at this ballot says "I have promised nothing higher". */
export function onHeartbeat(s: PaxosState, msg: Heartbeat): void {
  if (msg.term < s.promisedBallot) return reject(s, msg.from)
  follow(s, msg.from, msg.term)
  learnCommit(s, msg.term, msg.commitIndex)
  sendNow(s, msg.from, {
    type: 'heartbeat-reply',
    term: msg.term,
    commitIndex: s.commitIndex,
    readRound: msg.readRound,
  })
}

/** A new chosen watermark: a fact, learned whatever the ballot; only a current leader resets
 * the election timer. */
export function onCommit(s: PaxosState, msg: Commit): void {
  if (msg.term >= s.promisedBallot) follow(s, msg.from, msg.term)
  learnCommit(s, msg.term, msg.commitIndex)
}
