import {
  applyChange,
  isMembershipRefusal,
  isVoter,
  PROMOTE_MAX_LAG_ENTRIES,
  membershipRefusal as refuse,
  type MembershipChange,
  type ProposeMembershipResult,
} from '@kv/consensus'
import { Progress } from './progress.js'
import type { RaftNode } from './raft.js'
import { becomeFollower } from './roles.js'

/**
 * Single-server membership changes (Raft thesis §4.1, with learners first, §4.2.1):
 *
 * - A configuration takes effect on a node as soon as its entry is in that node's log,
 *   committed or not, and reverts if the entry is cut (`RaftLog.membershipAt`). Adding or
 *   removing one voter at a time keeps any majority of the old voters and any majority of the
 *   new ones intersecting, so two leaders can never be elected in one term across a change.
 * - At most one change is uncommitted at a time; and a leader proposes none until an entry of
 *   its own term committed (the fix Ongaro posted in 2015: otherwise a change made by an
 *   earlier leader and not yet known committed could combine with ours into a two-server step).
 * - Learners receive entries and snapshots, but never vote, never count toward a quorum (of
 *   commit, election, CheckQuorum or ReadIndex) and never campaign. A learner is promoted
 *   only once its log is within `PROMOTE_MAX_LAG_ENTRIES` of the leader's.
 * - A leader that removes itself keeps leading until the change commits, without counting
 *   itself, then steps down (thesis §4.2.2), handing over to an up-to-date voter if one is.
 *   A removed node never campaigns; the leader stops replicating to it at once.
 */


export function proposeMembership(r: RaftNode, change: MembershipChange): ProposeMembershipResult {
  if (r.role !== 'leader') return r.notLeader()
  if (r.transferee !== null) return refuse('transferring', `handing leadership to ${r.transferee}`)
  if (r.log.configIndex() > r.log.commitIndex) {
    return refuse('change-pending', `the change at index ${r.log.configIndex()} has not committed yet`)
  }
  if (r.log.term(r.log.commitIndex) !== r.term) {
    return refuse('change-pending', `no entry of term ${r.term} has committed yet`)
  }
  const next = applyChange(r.membership, change)
  if (isMembershipRefusal(next)) return next
  if (change.type === 'promote') {
    const match = r.progress.get(change.id)?.matchIndex ?? 0
    if (match + PROMOTE_MAX_LAG_ENTRIES < r.log.lastIndex()) {
      return refuse('not-caught-up', `${change.id} holds up to ${match}, the leader up to ${r.log.lastIndex()}`)
    }
  }
  const index = r.log.lastIndex() + 1
  r.log.append({ type: 'membership', index, term: r.term, change, membership: next })
  r.appendsPending = true
  return { index, term: r.term }
}

/** The leader tracks exactly its peers: new members get a progress (probing from our last
 * index), removed ones lose theirs. */
export function syncProgress(r: RaftNode): void {
  const peers = new Set(r.peers)
  for (const id of [...r.progress.keys()]) if (!peers.has(id)) r.progress.delete(id)
  for (const id of r.peers) {
    if (!r.progress.has(id)) r.progress.set(id, new Progress(r.log.lastIndex(), r.config.maxInflightMessages, r.leaderTicks))
  }
  if (r.transferee !== null && !isVoter(r.membership, r.transferee)) r.transferee = null
}

/**
 * Thesis §4.2.2: a leader not in its configuration steps down once that configuration's entry
 * committed. It first tells the voter that holds its whole log, if any, to campaign at once,
 * so that the group does not wait an election timeout (its followers' lease) for a leader.
 */
export function stepDownIfRemoved(r: RaftNode): void {
  if (r.role !== 'leader' || r.isVoter() || r.log.configIndex() > r.log.commitIndex) return
  const lastIndex = r.log.lastIndex()
  const successor = r.voterPeers.find((id) => r.progress.get(id)?.matchIndex === lastIndex)
  if (successor !== undefined) r.send({ type: 'TimeoutNow', to: successor }, 'now')
  becomeFollower(r, r.term, null)
}
