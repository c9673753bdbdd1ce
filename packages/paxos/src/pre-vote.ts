import { ourNextBallot } from './ballot.js'
import { canCampaign, electionVoters, isElectionQuorum } from './reconfiguration.js'
import type { PrePrepare, PrePromise } from './messages.js'
import { becomeFollower, resetElectionTimer } from './roles.js'
import { sendNow, type PaxosState } from './state.js'
import { campaign } from './view-change.js'

/**
 * Pre-vote (Raft thesis §9.6, carried over to ballots). A replica whose election timer
 * fires first asks whether a quorum would promise its next ballot, and runs phase 1 only
 * if so. The answer is "no" from any replica that heard from a leader within an election
 * timeout, so a replica that was partitioned away (or merely slow) cannot depose a healthy
 * leader, and a freshly elected leader is not pre-empted by a peer whose timer fired a
 * moment too late. Nothing is promised or persisted in this round.
 *
 * Unlike Raft's terms, ballots are distinct per proposer, so two pre-candidates that both
 * win would both run phase 1 and the higher ballot would depose a leader just elected. So a
 * replica backs one pre-candidate at a time (for an election timeout), and a pre-candidate
 * backs only itself: like Raft's one vote per term, colliding attempts split the vote and
 * retry after fresh random timeouts, and the first to gather a quorum is left alone.
 */

/**
 * The election timer fired. A pre-candidate whose round did not win stands down for one
 * more random timeout before trying again; while it stands down it backs others, so two
 * replicas that keep colliding cannot refuse each other forever.
 */
export function startElection(s: PaxosState): void {
  // Learners and removed replicas never start a view change.
  if (!canCampaign(s)) {
    resetElectionTimer(s)
    return
  }
  if (!s.options.preVote) return campaign(s)
  if (s.role === 'pre-candidate') {
    becomeFollower(s, null)
    resetElectionTimer(s)
    return
  }
  const ballot = ourNextBallot(s.promisedBallot, s.configs.latest().membership.roster, s.id)
  becomeFollower(s, null)
  s.role = 'pre-candidate'
  s.preCandidate = { ballot, grants: new Set([s.id]) }
  resetElectionTimer(s)
  for (const peer of electionVoters(s)) sendNow(s, peer, { type: 'pre-prepare', term: ballot })
  if (isElectionQuorum(s, s.preCandidate.grants)) campaign(s)
}

export function onPrePrepare(s: PaxosState, msg: PrePrepare): void {
  if (msg.term <= s.promisedBallot) {
    // Tell it the ballot to beat, so that its next attempt can succeed.
    sendNow(s, msg.from, { type: 'reject', term: s.promisedBallot })
    return
  }
  const leaderAlive = s.role === 'leader' || (s.leader !== null && s.electionElapsed < s.config.electionTimeoutTicks)
  const running = s.role === 'pre-candidate' || s.role === 'candidate'
  const backsAnother = s.preVoteGrant !== null && s.preVoteGrant.to !== msg.from
  const granted = !leaderAlive && !running && !backsAnother
  if (granted) s.preVoteGrant = { to: msg.from, ticksLeft: s.config.electionTimeoutTicks }
  sendNow(s, msg.from, { type: 'pre-promise', term: msg.term, granted })
}

/** Loss: ask again every peer that has not said yes (the round itself lasts one election timeout). */
export function retryPrePrepare(s: PaxosState): void {
  const pre = s.preCandidate
  if (pre === null) return
  for (const peer of electionVoters(s)) if (!pre.grants.has(peer)) sendNow(s, peer, { type: 'pre-prepare', term: pre.ballot })
}

/** One tick of the pre-vote backing window. */
export function tickPreVoteGrant(s: PaxosState): void {
  const grant = s.preVoteGrant
  if (grant === null) return
  grant.ticksLeft -= 1
  if (grant.ticksLeft <= 0) s.preVoteGrant = null
}

export function onPrePromise(s: PaxosState, msg: PrePromise): void {
  const pre = s.preCandidate
  if (pre === null || msg.term !== pre.ballot || !msg.granted) return
  pre.grants.add(msg.from)
  if (isElectionQuorum(s, pre.grants)) campaign(s)
}
