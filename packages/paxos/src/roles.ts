import type { NodeId } from '@kv/consensus'
import { randomElectionTimeout, type PaxosState } from './state.js'

/** Restart the randomized election timer (a leader was heard, or a promise granted). */
export function resetElectionTimer(s: PaxosState): void {
  s.electionElapsed = 0
  s.electionTimeout = randomElectionTimeout(s.config)
}

/** Leave the leader or candidate role. Pending reads fail: the ballot that would have
 * confirmed them is gone. */
export function becomeFollower(s: PaxosState, leader: NodeId | null): void {
  if (s.role === 'leader') s.out.readStates.push(...s.reads.failAll())
  s.role = 'follower'
  s.leader = leader
  s.preCandidate = null
  s.candidate = null
  s.proposer = null
}

/**
 * A message carries `ballot`. A higher ballot than any promised is adopted as the promise:
 * promising more is always safe, and a leader or candidate with a lower ballot must step
 * down, since its ballot can no longer gather a quorum anywhere this node counts.
 */
export function observeBallot(s: PaxosState, ballot: number): void {
  if (ballot <= s.promisedBallot) return
  s.promisedBallot = ballot
  // A snapshot half received from the old ballot's leader is dropped: the next sends its own.
  s.snapshotAssembly.clear()
  becomeFollower(s, null)
}

/** `leader` holds ballot `ballot` (>= our promise): follow it. */
export function follow(s: PaxosState, leader: NodeId, ballot: number): void {
  observeBallot(s, ballot)
  if (s.role !== 'follower') becomeFollower(s, leader)
  s.leader = leader
  resetElectionTimer(s)
}
