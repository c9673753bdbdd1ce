import type { NotLeader } from '@kv/consensus'
import { sendCatchUp } from './learner.js'
import type { HeartbeatReply, LearnReply } from './messages.js'
import { resendStalled } from './replication.js'
import { becomeFollower, resetElectionTimer } from './roles.js'
import { sendNow, type PaxosState } from './state.js'

/**
 * The leader's clock: heartbeats (liveness, the chosen watermark, catch-up triggers, read
 * barrier rounds) and the quorum check.
 */

function broadcastHeartbeats(s: PaxosState): void {
  const leader = s.proposer
  if (leader === null) return
  leader.heartbeatElapsed = 0
  for (const [peer, progress] of leader.peers) {
    progress.commitSent = Math.max(progress.commitSent, s.commitIndex)
    sendNow(s, peer, {
      type: 'heartbeat',
      term: leader.ballot,
      commitIndex: s.commitIndex,
      readRound: s.reads.roundInFlight,
    })
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
  const answers = s.reads.acknowledge(s.id, round, s.quorum)
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
  if (leader === null || msg.term !== leader.ballot) return
  leader.heardFrom.add(msg.from)
  if (msg.readRound > 0) {
    const answers = s.reads.acknowledge(msg.from, msg.readRound, s.quorum)
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
  leader.heardFrom.add(msg.from)
  progress.learnOutstanding = false
  sendCatchUp(s, msg.from, msg.commitIndex)
}

/**
 * One leader tick. Every `heartbeatTicks`: heartbeats, and a stalled Accept window or a
 * lost catch-up message is restarted. Every `electionTimeoutTicks`: a leader that heard
 * from no quorum steps down (it could not confirm reads or choose values anyway, and its
 * pending reads must fail rather than hang).
 */
export function tickLeader(s: PaxosState): void {
  const leader = s.proposer
  if (leader === null) return
  leader.heartbeatElapsed += 1
  if (leader.heartbeatElapsed >= s.config.heartbeatTicks) {
    resendStalled(s, leader)
    for (const progress of leader.peers.values()) progress.learnOutstanding = false
    broadcastHeartbeats(s)
  }
  leader.quorumElapsed += 1
  if (leader.quorumElapsed >= s.config.electionTimeoutTicks) {
    const heard = leader.heardFrom.size + 1
    leader.quorumElapsed = 0
    leader.heardFrom.clear()
    if (heard < s.quorum) {
      becomeFollower(s, null)
      resetElectionTimer(s)
    }
  }
}
