import type { Ready } from '@kv/consensus'
import { nextBallotAbove } from './ballot.js'
import { installSnapshot } from './learner.js'
import { becomeLeader } from './leader.js'
import type { PaxosPromise, Reject, TimeoutNow } from './messages.js'
import { becomeFollower, observeBallot, resetElectionTimer } from './roles.js'
import { sendAfterPersist, type PaxosState } from './state.js'

/**
 * View change: a replica that stops hearing from a leader runs phase 1 with a higher
 * ballot ("Paxos Made Moderately Complex" §3, Scout). Randomized timeouts keep two
 * proposers from pre-empting each other forever ("Paxos Made Simple" §2.4 names this
 * liveness problem; a distinguished proposer elected by timeouts is its cure).
 */

/** Start phase 1 with the smallest ballot of ours above every ballot promised. */
export function campaign(s: PaxosState): void {
  const index = s.config.members.indexOf(s.id)
  const ballot = nextBallotAbove(s.promisedBallot, index, s.config.members.length)
  becomeFollower(s, null)
  s.promisedBallot = ballot
  s.role = 'candidate'
  s.candidate = { ballot, promises: new Map(), selfPromised: false }
  resetElectionTimer(s)
  // The Prepare goes out only once the ballot is durable: a candidate that crashed before
  // persisting it could pick the same ballot again after restart and, with another quorum,
  // propose a second value at that ballot for one slot.
  for (const peer of s.peers) {
    sendAfterPersist(s, peer, { type: 'prepare', term: ballot, commitIndex: s.commitIndex })
  }
}

/**
 * Loss: send the Prepare again to every acceptor that has not promised, rather than let the
 * round time out and start a new view (a fresh pre-vote and ballot, and an election timeout
 * lost). Repeating it is harmless: an acceptor answers a Prepare of the ballot it promised
 * with its promise again. Still only after our ballot is durable (see `campaign`).
 */
export function retryPrepare(s: PaxosState): void {
  const candidate = s.candidate
  if (candidate === null) return
  for (const peer of s.peers) {
    if (!candidate.promises.has(peer)) sendAfterPersist(s, peer, { type: 'prepare', term: candidate.ballot, commitIndex: s.commitIndex })
  }
}

function maybeWin(s: PaxosState): void {
  const candidate = s.candidate
  if (candidate === null) return
  const promises = candidate.promises.size + (candidate.selfPromised ? 1 : 0)
  if (promises < s.quorum) return
  const reports = [...candidate.promises.values()]
  // Our own promise: every slot we accepted above our watermark.
  reports.push({ commitIndex: s.commitIndex, accepted: s.log.acceptedAbove(s.commitIndex) })
  becomeLeader(s, candidate.ballot, reports)
}

export function onPromise(s: PaxosState, msg: PaxosPromise): void {
  const candidate = s.candidate
  if (candidate === null || msg.term !== candidate.ballot) return
  // The acceptor compacted chosen slots we lack: adopt its snapshot first, so that
  // recovery starts above it (the compacted slots are chosen, not holes).
  if (msg.snapshot !== null) installSnapshot(s, msg.snapshot)
  candidate.promises.set(msg.from, { commitIndex: msg.commitIndex, accepted: msg.accepted })
  maybeWin(s)
}

/** The Ready carrying our candidate ballot is durable: our own promise counts now. */
export function countOwnPromise(s: PaxosState, ready: Ready): void {
  const candidate = s.candidate
  if (candidate === null || ready.hardState?.term !== candidate.ballot) return
  candidate.selfPromised = true
  maybeWin(s)
}

/** Someone promised a higher ballot than ours: step down. */
export function onReject(s: PaxosState, msg: Reject): void {
  observeBallot(s, msg.term)
}

/** Leadership transfer: the current leader asks us to run phase 1 now. */
export function onTimeoutNow(s: PaxosState, msg: TimeoutNow): void {
  if (msg.term < s.promisedBallot) return
  campaign(s)
}
