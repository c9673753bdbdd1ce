import {
  applyChange,
  hasQuorum,
  isMembershipRefusal,
  isVoter,
  membersOf,
  PROMOTE_MAX_LAG_ENTRIES,
  membershipRefusal as refuse,
  type Membership,
  type MembershipChange,
  type NodeId,
  type ProposeMembershipResult,
} from '@kv/consensus'
import { newPeerProgress, takeSlot } from './leader.js'
import { becomeFollower } from './roles.js'
import { sendNow, type LeaderState, type PaxosState } from './state.js'
import { take } from './window.js'

/**
 * Reconfiguration through the log, under the alpha rule (configs.ts, window.ts):
 *
 * - A change is a log entry chosen like any other; the membership chosen at slot i governs
 *   slots from i + α on. The leader proposes in slot j only once slots up to j − α are chosen.
 * - One change at a time: a leader proposes one only after its recovery is chosen, when no
 *   other change is proposed and not chosen, and when the last chosen change already governs
 *   every slot not chosen yet (chosen at i with i + α ≤ watermark + 1). So changes lie at least
 *   α slots apart, and at most two memberships (one change) govern the slots past a snapshot.
 * - Changes are single-server (one voter added or removed), learners first: any majority of
 *   one membership meets any majority of the next.
 * - Learners (and replicas that will vote only from a later slot) are no acceptors of a slot:
 *   they get no Accept for it and their answers do not count; they learn chosen values
 *   through Learn and snapshots. They never campaign.
 * - Recovery (phase 1) needs promises from a majority of every membership that governs a slot
 *   it recovers or will propose: the chosen ones from the candidate's watermark on, and the
 *   one of each membership entry the promises report (view-change.ts, `maybeWin`).
 * - A leader whose removal is chosen stops at once (the next leader recovers its slots in
 *   flight), after telling an up-to-date voter to start a view change.
 */


export function proposeMembership(s: PaxosState, change: MembershipChange): ProposeMembershipResult {
  const leader = s.proposer
  if (s.role !== 'leader' || leader === null) return { type: 'not-leader', leader: s.leader }
  if (leader.changeSlot !== null) return refuse('change-pending', `the change in slot ${leader.changeSlot} is not chosen yet`)
  if (s.commitIndex < leader.recoveryThrough) return refuse('change-pending', `recovery through slot ${leader.recoveryThrough} is not chosen yet`)
  const latest = s.configs.latest()
  if (latest.slot + s.options.alpha > s.commitIndex + 1) {
    // Asked for the next change before the last governs: fill the slots up to where it does
    // (a leader elected since may not have), so that asked again, it is taken.
    fillWindow(s, leader, latest.slot)
    return refuse('change-pending', `the change chosen in slot ${latest.slot} governs from slot ${latest.slot + s.options.alpha} on`)
  }
  const next = applyChange(latest.membership, change)
  if (isMembershipRefusal(next)) return next
  if (change.type === 'promote') {
    const reported = leader.peers.get(change.id)?.reportedCommit ?? 0
    if (reported + PROMOTE_MAX_LAG_ENTRIES < s.commitIndex) {
      return refuse('not-caught-up', `${change.id} has chosen up to ${reported}, the leader up to ${s.commitIndex}`)
    }
  }
  const slot = takeSlot(s, leader)
  take(s, leader, { type: 'membership', index: slot, term: leader.ballot, change, membership: next })
  leader.changeSlot = slot
  fillWindow(s, leader, slot)
  return { index: slot, term: leader.ballot }
}

/**
 * The change chosen at `slot` governs from slot + α on: the leader fills the slots before
 * that with no-ops at once, so the change takes effect as soon as they are chosen, writes or
 * none. Until then the membership before it still governs, and a removed replica still
 * counts: a group that lost another replica in that window would wait for one to return.
 */
function fillWindow(s: PaxosState, leader: LeaderState, slot: number): void {
  while (leader.nextSlot < slot + s.options.alpha) take(s, leader, { type: 'noop', index: takeSlot(s, leader), term: leader.ballot })
}

/** The memberships that govern a slot not chosen yet (from the watermark on). */
function governing(s: PaxosState): Membership[] {
  return s.configs.governingFrom(s.commitIndex + 1)
}

/**
 * A leader's quorum for anything that is not one slot's phase 2 (read barriers, the quorum
 * check): a majority of every membership governing a slot not chosen yet, so that it meets
 * the promise quorum of any higher ballot (which includes one of each, see `maybeWin`).
 */
export function isLeaderQuorum(s: PaxosState, ids: Iterable<NodeId>): boolean {
  const set = [...ids]
  return governing(s).every((m) => hasQuorum(m, set))
}

/** Whom a leader replicates to and hears from: every member of a membership governing a slot
 * not chosen yet (acceptors of some slot, learners), but itself. */
export function leaderPeers(s: PaxosState): NodeId[] {
  const peers = new Set<NodeId>()
  for (const m of governing(s)) for (const id of membersOf(m)) if (id !== s.id) peers.add(id)
  return [...peers]
}

/** Acceptors a pre-candidate or candidate asks first: the voters of every governing membership. */
export function electionVoters(s: PaxosState): NodeId[] {
  const voters = new Set<NodeId>()
  for (const m of governing(s)) for (const id of m.voters) if (id !== s.id) voters.add(id)
  return [...voters]
}

/** A pre-vote's grants (itself included) are a majority of every governing membership. */
export function isElectionQuorum(s: PaxosState, ids: Iterable<NodeId>): boolean {
  return isLeaderQuorum(s, ids)
}

/** Only a voter of the latest chosen membership starts a view change (learners and removed
 * replicas never do). */
export function canCampaign(s: PaxosState): boolean {
  return isVoter(s.configs.latest().membership, s.id)
}

/** The leader tracks exactly the replicas of `leaderPeers`: a joining one gets a progress,
 * one that left loses it. Run as the watermark moves (once per Ready). */
export function syncPeers(s: PaxosState, leader: LeaderState): void {
  const peers = leaderPeers(s)
  const keep = new Set(peers)
  for (const id of [...leader.peers.keys()]) if (!keep.has(id)) leader.peers.delete(id)
  for (const id of peers) if (!leader.peers.has(id)) leader.peers.set(id, newPeerProgress(s, leader))
}

/** A leader whose removal is chosen stops leading, after handing over to an up-to-date voter. */
export function stepDownIfRemoved(s: PaxosState): void {
  const leader = s.proposer
  if (leader === null || isVoter(s.configs.latest().membership, s.id)) return
  const latest = s.configs.latest().membership
  const successor = latest.voters.find((id) => (leader.peers.get(id)?.reportedCommit ?? -1) >= s.commitIndex)
  if (successor !== undefined) sendNow(s, successor, { type: 'timeout-now', term: leader.ballot })
  becomeFollower(s, null)
}
