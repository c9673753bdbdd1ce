import { hasQuorum, type Membership, type NodeId, type Ready } from '@kv/consensus'
import { ourNextBallot } from './ballot.js'
import { becomeLeader } from './leader.js'
import { canCampaign, electionVoters, leaderPeers } from './reconfiguration.js'
import { planRecovery } from './recovery.js'
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
  if (!canCampaign(s)) return
  const ballot = ourNextBallot(s.promisedBallot, s.configs.latest().membership.roster, s.id)
  becomeFollower(s, null)
  s.promisedBallot = ballot
  s.role = 'candidate'
  const asked = new Set(electionVoters(s))
  s.candidate = { ballot, promises: new Map(), selfPromised: false, asked }
  s.snapshotAssembly.clear() // no leader sends us chunks while we run
  resetElectionTimer(s)
  // The Prepare goes out only once the ballot is durable: a candidate that crashed before
  // persisting it could pick the same ballot again after restart and, with another quorum,
  // propose a second value at that ballot for one slot.
  for (const peer of asked) sendPrepare(s, peer, ballot)
}

function sendPrepare(s: PaxosState, peer: NodeId, ballot: number): void {
  sendAfterPersist(s, peer, { type: 'prepare', term: ballot, commitIndex: s.commitIndex, fromSlot: s.commitIndex + 1 })
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
  for (const peer of candidate.asked) {
    const promise = candidate.promises.get(peer)
    if (promise?.complete === true) continue
    // A report in parts: ask again for the part we are waiting for.
    const fromSlot = promise?.askedFrom ?? s.commitIndex + 1
    sendAfterPersist(s, peer, { type: 'prepare', term: candidate.ballot, commitIndex: s.commitIndex, fromSlot })
  }
}

/**
 * Phase 1 is won once the complete promises (ours included, once durable) hold a majority of
 * every membership that governs a slot this leader will recover or propose: the chosen ones
 * from our watermark on, and each membership entry the recovery re-proposes (it governs from
 * α slots after its own). A value chosen in any slot was chosen by a majority of that slot's
 * membership, which one of these is (by induction over the slots, since the recovered value
 * of slot j − α is the chosen one if any is), so the recovery finds it. Acceptors of a
 * membership we learn of only now are asked too.
 */
function maybeWin(s: PaxosState): void {
  const candidate = s.candidate
  if (candidate === null) return
  const promised: NodeId[] = []
  for (const [id, p] of candidate.promises) if (p.complete) promised.push(id)
  if (candidate.selfPromised) promised.push(s.id)
  const governing = s.configs.governingFrom(s.commitIndex + 1)
  if (!governing.every((m) => hasQuorum(m, promised))) return
  const reports = [...candidate.promises.values()].filter((p) => p.complete).flatMap((p) => p.parts)
  // Our own promise: every slot we accepted above our watermark.
  reports.push({ commitIndex: s.commitIndex, accepted: s.log.acceptedAbove(s.commitIndex) })
  const recovery = planRecovery(s.commitIndex, reports, candidate.ballot)
  const required: Membership[] = [...governing]
  for (const entry of recovery) if (entry.type === 'membership') required.push(entry.membership)
  if (!required.every((m) => hasQuorum(m, promised))) {
    for (const m of required) {
      for (const id of m.voters) {
        if (id === s.id || candidate.asked.has(id)) continue
        candidate.asked.add(id)
        sendPrepare(s, id, candidate.ballot)
      }
    }
    return
  }
  const peers = new Set(leaderPeers(s))
  for (const m of required) for (const id of [...m.voters, ...m.learners]) if (id !== s.id) peers.add(id)
  becomeLeader(s, candidate.ballot, recovery, [...peers])
}

/** The acceptor's snapshot covers slots the Promise should report from. */
export function isBehindSnapshot(msg: PaxosPromise): boolean {
  return msg.snapshotIndex >= msg.fromSlot
}

export function onPromise(s: PaxosState, msg: PaxosPromise): void {
  const candidate = s.candidate
  if (candidate === null || msg.term !== candidate.ballot) return
  if (isBehindSnapshot(msg)) {
    // The acceptor compacted slots it should report (chosen values we lack): recovery would
    // take them for holes. We cannot lead; step aside for a replica that holds them (its
    // leadership will catch us up, by a snapshot in chunks).
    becomeFollower(s, null)
    return
  }
  const promise = candidate.promises.get(msg.from) ?? { parts: [], complete: false, askedFrom: null }
  // Parts come one at a time, each asked for after the previous one: anything else is a duplicate.
  const expected = promise.parts.length === 0 || msg.fromSlot === promise.askedFrom
  if (promise.complete || !expected) return
  promise.parts.push({ commitIndex: msg.commitIndex, accepted: msg.accepted })
  promise.complete = msg.complete
  candidate.promises.set(msg.from, promise)
  if (!msg.complete) {
    // The report did not fit in one message: ask for the rest (our ballot is durable already).
    const fromSlot = Math.max((msg.accepted.at(-1)?.index ?? msg.fromSlot) + 1, s.commitIndex + 1)
    promise.askedFrom = fromSlot
    sendAfterPersist(s, msg.from, { type: 'prepare', term: candidate.ballot, commitIndex: s.commitIndex, fromSlot })
  }
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
  if (msg.term < s.promisedBallot || !canCampaign(s)) return
  campaign(s)
}
