import type { AttemptVerdict } from '@kv/protocol'

/**
 * What a NOT_LEADER answer tells a simulated caller: the leader it names, and where that leader
 * is, as a kv node says (`leaderAddress`); in the simulator a replica's address is its id, so a
 * member added since the caller's spec was written is found the way real clients find it.
 */
export function notLeaderVerdict(leader: string | null | undefined): AttemptVerdict<string> {
  return leader == null ? { kind: 'not-leader', hint: null } : { kind: 'not-leader', hint: leader, hintAddress: leader }
}
