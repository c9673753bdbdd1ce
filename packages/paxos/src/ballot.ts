import type { NodeId } from '@kv/consensus'

/**
 * Ballots are numbers, unique per proposer and totally ordered ("Paxos Made Simple" §2.2:
 * "different proposers choose their numbers from disjoint sets"). The ballot of member i
 * in round r is `r * n + i + 1`; 0 means "no ballot yet".
 */

/** The smallest ballot owned by member `index` that is above `above`. */
export function nextBallotAbove(above: number, index: number, memberCount: number): number {
  const round = Math.floor(above / memberCount)
  const ballot = round * memberCount + index + 1
  return ballot > above ? ballot : ballot + memberCount
}

/** The member that owns `ballot` (the only node that may lead with it). */
export function ballotOwner(ballot: number, members: readonly NodeId[]): NodeId | null {
  if (ballot < 1) return null
  return members[(ballot - 1) % members.length] ?? null
}
