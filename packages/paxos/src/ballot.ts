import { MAX_ROSTER, type NodeId } from '@kv/consensus'

/**
 * Ballots are numbers, unique per proposer and totally ordered ("Paxos Made Simple" §2.2:
 * "different proposers choose their numbers from disjoint sets"). The ballot of the replica
 * at position i of the group's roster (`Membership.roster`: every id ever admitted, in
 * admission order, never reordered) in round r is `r * MAX_ROSTER + i + 1`; 0 means "no
 * ballot yet". The roster, not the current members, numbers them: replicas that disagree on
 * the membership for a while (it changes through the log) still agree on every ballot's owner.
 */

/** The smallest ballot owned by member `index` that is above `above`. */
export function nextBallotAbove(above: number, index: number, memberCount: number): number {
  const round = Math.floor(above / memberCount)
  const ballot = round * memberCount + index + 1
  return ballot > above ? ballot : ballot + memberCount
}

/** The replica that owns `ballot` (the only node that may lead with it); null when its
 * position is beyond the roster known here. `width`: the positions per round. */
export function ballotOwner(ballot: number, roster: readonly NodeId[], width = MAX_ROSTER): NodeId | null {
  if (ballot < 1) return null
  return roster[(ballot - 1) % width] ?? null
}

/** Our smallest ballot above `above`, as the replica at our roster position. */
export function ourNextBallot(above: number, roster: readonly NodeId[], self: NodeId): number {
  const position = roster.indexOf(self)
  if (position < 0) throw new Error(`${self} is not in its group's roster`)
  return nextBallotAbove(above, position, MAX_ROSTER)
}
