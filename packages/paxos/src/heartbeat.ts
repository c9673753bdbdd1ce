import type { NodeId, NotLeader } from '@kv/consensus'
import { isLeaderQuorum } from './reconfiguration.js'
import { sendCatchUp } from './learner.js'
import { QUORUM_CHECK_ELECTION_TIMEOUTS } from './limits.js'
import type { HeartbeatReply, LearnReply } from './messages.js'
import { retransmitExpired } from './replication.js'
import { becomeFollower, resetElectionTimer } from './roles.js'
import { sendNow, type LeaderState, type PaxosState, type PeerProgress } from './state.js'

/**
 * The leader's clock: heartbeats (liveness, the chosen watermark, catch-up triggers, read
 * barrier rounds) and the quorum check.
 */

function sendHeartbeat(s: PaxosState, leader: LeaderState, peer: NodeId, progress: PeerProgress): void {
  progress.commitSent = Math.max(progress.commitSent, s.commitIndex)
  progress.heartbeatSentTick = leader.ticks
  sendNow(s, peer, {
    type: 'heartbeat',
    term: leader.ballot,
    commitIndex: s.commitIndex,
    readRound: s.reads.roundInFlight,
  })
}

function broadcastHeartbeats(s: PaxosState): void {
  const leader = s.proposer
  if (leader === null) return
  leader.heartbeatElapsed = 0
  for (const [peer, progress] of leader.peers) sendHeartbeat(s, leader, peer, progress)
}

/**
 * A read round waits for a quorum's acknowledgements, and every read that arrives meanwhile
 * waits behind it: an acceptor whose heartbeat (or its answer) is lost is asked again once its
 * retransmission timeout expires, not a heartbeat interval later.
 */
function retransmitReadRound(s: PaxosState, leader: LeaderState): void {
  const round = s.reads.roundInFlight
  if (round === 0) return
  for (const [peer, progress] of leader.peers) {
    if (s.reads.acknowledged(round, peer)) continue
    if (progress.retransmit.expired(progress.heartbeatSentTick, leader.ticks, 1)) sendHeartbeat(s, leader, peer, progress)
  }
}

/**
 * Starts a read barrier round if reads wait and none is in flight, once every recovery
 * slot is chosen (see read-barrier.ts for why both conditions make the index safe).
 */
export function startReadRound(s: PaxosState): void {
  const leader = s.proposer
  if (leader === null || s.commitIndex < leader.recoveryThrough) return
  const round = s.reads.startRound(s.commitIndex, s.id)
  if (round === null) return
  // The leader's own acknowledgement is in already; a group of one is done at once.
  const answers = s.reads.acknowledge(s.id, round, (acks) => isLeaderQuorum(s, acks))
  if (answers.length > 0) {
    s.out.readStates.push(...answers)
    startReadRound(s)
    return
  }
  broadcastHeartbeats(s)
}

/** `readIndex(ctx)`: queue the read behind the next barrier round. */
export function requestRead(s: PaxosState, ctx: number): NotLeader | null {
  if (s.role !== 'leader') return { type: 'not-leader', leader: s.leader }
  const refused = s.reads.enqueue(ctx)
  if (refused !== null) s.out.readStates.push(refused)
  startReadRound(s)
  return null
}

export function onHeartbeatReply(s: PaxosState, msg: HeartbeatReply): void {
  const leader = s.proposer
  const progress = leader?.peers.get(msg.from)
  if (leader === null || progress === undefined || msg.term !== leader.ballot) return
  progress.lastHeardTick = leader.ticks
  progress.reportedCommit = Math.max(progress.reportedCommit, msg.commitIndex)
  if (msg.readRound > 0) {
    const answers = s.reads.acknowledge(msg.from, msg.readRound, (acks) => isLeaderQuorum(s, acks))
    if (answers.length > 0) {
      s.out.readStates.push(...answers)
      startReadRound(s)
    }
  }
  sendCatchUp(s, msg.from, msg.commitIndex)
}

export function onLearnReply(s: PaxosState, msg: LearnReply): void {
  const leader = s.proposer
  const progress = leader?.peers.get(msg.from)
  if (leader === null || progress === undefined || msg.term !== leader.ballot) return
  progress.lastHeardTick = leader.ticks
  progress.reportedCommit = Math.max(progress.reportedCommit, msg.commitIndex)
  progress.learnOutstanding = false
  sendCatchUp(s, msg.from, msg.commitIndex)
}

/**
 * The quorum check: a leader that heard nothing from a quorum for
 * `QUORUM_CHECK_ELECTION_TIMEOUTS` election timeouts steps down (it could not confirm reads
 * or choose values anyway, and its pending reads must fail rather than hang). Any answer at
 * its ballot counts. At 30 % loss per direction a heartbeat round trip fails with odds 0.51,
 * so over one election timeout (five round trips by default) an idle leader misses a given
 * peer once in 30 windows and both peers of a group of three once in 800 (every seven
 * minutes; at 45 % loss every twenty seconds), each time a needless view change. Over two
 * election timeouts the odds are squared. A leader really cut off steps down one election
 * timeout later; the others' view change does not wait for it (their pre-votes need only
 * their own silence).
 */
function checkQuorum(s: PaxosState, leader: LeaderState): void {
  const window = QUORUM_CHECK_ELECTION_TIMEOUTS * s.config.electionTimeoutTicks
  if (leader.ticks < window) return
  const heard = [s.id]
  for (const [peer, progress] of leader.peers) if (leader.ticks - progress.lastHeardTick < window) heard.push(peer)
  if (isLeaderQuorum(s, heard)) return
  becomeFollower(s, null)
  resetElectionTimer(s)
}

/**
 * One leader tick. Accepts, and read round heartbeats, unanswered for longer than their
 * acceptor's retransmission timeout go again. Every `heartbeatTicks`: heartbeats, and a lost
 * catch-up message is restarted. Then the quorum check.
 */
export function tickLeader(s: PaxosState): void {
  const leader = s.proposer
  if (leader === null) return
  leader.ticks += 1
  retransmitExpired(s, leader)
  retransmitReadRound(s, leader)
  leader.heartbeatElapsed += 1
  leader.catchUpElapsed += 1
  // A catch-up chain whose Learn (or its reply) was lost restarts once per heartbeat interval,
  // by the clock: read rounds send heartbeats of their own, and under a steady read load they
  // keep `heartbeatElapsed` from ever reaching the interval.
  if (leader.catchUpElapsed >= s.config.heartbeatTicks) {
    leader.catchUpElapsed = 0
    for (const progress of leader.peers.values()) progress.learnOutstanding = false
  }
  if (leader.heartbeatElapsed >= s.config.heartbeatTicks) broadcastHeartbeats(s)
  checkQuorum(s, leader)
}
