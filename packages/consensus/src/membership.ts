import type { Entry, NodeId } from './types.js'

/**
 * Who belongs to a group, and the one-server-at-a-time changes that move it (Raft thesis
 * §4.1; for Paxos, reconfiguration through the log under the alpha rule, see @kv/paxos).
 *
 * A replica joins as a *learner* (it receives entries and snapshots, never votes, never
 * counts toward a quorum, never campaigns), is *promoted* to voter once it has caught up,
 * and may be *removed* from either role. Each change is a log entry (`type: 'membership'`)
 * that commits like any other and reaches the shell in `Ready.committed`, so the shell learns
 * the membership, and from each change's `context` the new replica's address, from the log.
 */
export interface Membership {
  /** Replicas whose acknowledgements and votes count: quorums are majorities of these. */
  readonly voters: readonly NodeId[]
  /** Replicas that receive the log but do not vote. */
  readonly learners: readonly NodeId[]
  /**
   * Every id ever admitted to the group, in admission order. It only grows: a removed id is
   * never admitted again (its old incarnation's stale messages could pass for the new one's),
   * and Paxos numbers its ballots by an id's position here, which must never change.
   */
  readonly roster: readonly NodeId[]
}

/** One step of a membership change. `context` is opaque to the cores: the shell puts the
 * replica's address there (and reads it back when the entry commits). */
export interface MembershipChange {
  readonly type: 'add-learner' | 'promote' | 'remove'
  readonly id: NodeId
  readonly context: Uint8Array
}

/** Why a core refused `proposeMembership` (besides not leading). */
export type MembershipRefusalReason =
  /** An earlier change has not committed (Raft) or taken effect (Paxos) yet: one at a time. */
  | 'change-pending'
  /** `promote` of a learner whose log is not within `PROMOTE_MAX_LAG_ENTRIES` of the leader's. */
  | 'not-caught-up'
  /** `remove` of the only voter: a group with no voter can never commit again. */
  | 'last-voter'
  /** `promote` or `remove` of an id that is not a learner (promote) or a member (remove). */
  | 'unknown-id'
  /** `add-learner` of an id already admitted once (a member, or removed earlier). */
  | 'already-admitted'
  /** The roster holds `MAX_ROSTER` ids: no new id can be admitted to this group. */
  | 'roster-full'
  /** The leader is handing over (Raft §3.10) and takes no new entries meanwhile. */
  | 'transferring'

/** Refusals that may pass (another change commits, the learner catches up, the hand-over ends):
 * the same change may be asked for again. The others never pass for that change. */
export function isRefusedForNow(reason: MembershipRefusalReason): boolean {
  return reason === 'change-pending' || reason === 'not-caught-up' || reason === 'transferring'
}

export interface MembershipRefusal {
  readonly type: 'membership-refused'
  readonly reason: MembershipRefusalReason
  readonly message: string
}

/** An entry that changes the membership, carrying the change and the membership it results in. */
export type MembershipEntry = Extract<Entry, { readonly type: 'membership' }>

/**
 * Ids a roster holds at most (replicas admitted over a group's life). Paxos ballots are
 * `round × MAX_ROSTER + position + 1`, so this also sets how fast ballots grow.
 */
export const MAX_ROSTER = 64

/** Members of one group at most (voters and learners together). */
export const MAX_MEMBERS = 15

/**
 * A learner may be promoted once its log (Raft: its match index; Paxos: its chosen
 * watermark) is within this many entries of the leader's (Raft: last index; Paxos: chosen
 * watermark). A voter that joins far behind would leave the group one failure from losing
 * its quorum until it caught up (thesis §4.2.1); within a few batches it is there at once.
 */
export const PROMOTE_MAX_LAG_ENTRIES = 64

/** The membership a group starts with: `members` vote, in that order. */
export function initialMembership(members: readonly NodeId[]): Membership {
  return { voters: [...members], learners: [], roster: [...members] }
}

export function isVoter(m: Membership, id: NodeId): boolean {
  return m.voters.includes(id)
}

export function isLearner(m: Membership, id: NodeId): boolean {
  return m.learners.includes(id)
}

export function isMember(m: Membership, id: NodeId): boolean {
  return isVoter(m, id) || isLearner(m, id)
}

/** Voters and learners, voters first. */
export function membersOf(m: Membership): NodeId[] {
  return [...m.voters, ...m.learners]
}

/** Raft §5.2: a majority of the voters. */
export function quorumOf(m: Membership): number {
  return Math.floor(m.voters.length / 2) + 1
}

/** `ids` (any set of replicas) include a majority of `m`'s voters. Non-voters do not count. */
export function hasQuorum(m: Membership, ids: Iterable<NodeId>): boolean {
  let count = 0
  const seen = new Set<NodeId>()
  for (const id of ids) {
    if (seen.has(id) || !isVoter(m, id)) continue
    seen.add(id)
    count++
  }
  return count >= quorumOf(m)
}

/** A refusal of a membership change, with why (shared by the cores' own checks). */
export function membershipRefusal(reason: MembershipRefusalReason, message: string): MembershipRefusal {
  return { type: 'membership-refused', reason, message }
}

export function isMembershipRefusal(x: unknown): x is MembershipRefusal {
  return typeof x === 'object' && x !== null && (x as { type?: unknown }).type === 'membership-refused'
}

/**
 * The membership `change` leads to from `m`, or why it may not be made. Pure: the cores add
 * their own conditions (leadership, one change at a time, a learner caught up).
 */
export function applyChange(m: Membership, change: MembershipChange): Membership | MembershipRefusal {
  const { id } = change
  switch (change.type) {
    case 'add-learner':
      if (m.roster.includes(id)) return membershipRefusal('already-admitted', `${id} was admitted to this group before`)
      if (m.roster.length >= MAX_ROSTER) return membershipRefusal('roster-full', `the roster holds ${MAX_ROSTER} ids already`)
      if (m.voters.length + m.learners.length >= MAX_MEMBERS) return membershipRefusal('roster-full', `a group has ${MAX_MEMBERS} members at most`)
      return { voters: m.voters, learners: [...m.learners, id], roster: [...m.roster, id] }
    case 'promote':
      if (!isLearner(m, id)) return membershipRefusal('unknown-id', `${id} is not a learner of this group`)
      return { voters: [...m.voters, id], learners: m.learners.filter((l) => l !== id), roster: m.roster }
    case 'remove':
      if (!isMember(m, id)) return membershipRefusal('unknown-id', `${id} is not a member of this group`)
      if (m.voters.length === 1 && m.voters[0] === id) return membershipRefusal('last-voter', `${id} is the last voter`)
      return { voters: m.voters.filter((v) => v !== id), learners: m.learners.filter((l) => l !== id), roster: m.roster }
    default: {
      const unknown: never = change.type
      return membershipRefusal('unknown-id', `unknown change ${String(unknown)}`)
    }
  }
}

// ---------------------------------------------------------------------------------------
// The gateway: membership entries arrive inside peer messages.

function isIdList(x: unknown, max: number): x is NodeId[] {
  return Array.isArray(x) && x.length <= max && x.every((id) => typeof id === 'string' && id.length > 0) && new Set(x).size === x.length
}

/** The shape of a membership, as decoded from the wire or the disk. */
export function isMembership(x: unknown): x is Membership {
  if (typeof x !== 'object' || x === null) return false
  const m = x as Record<string, unknown>
  if (!isIdList(m['voters'], MAX_MEMBERS) || !isIdList(m['learners'], MAX_MEMBERS) || !isIdList(m['roster'], MAX_ROSTER)) return false
  const roster = new Set(m['roster'])
  const members = [...m['voters'], ...m['learners']]
  return m['voters'].length >= 1 && new Set(members).size === members.length && members.every((id) => roster.has(id))
}

/** Bytes of context one change may carry at most (an address, a few fields). */
export const MAX_CHANGE_CONTEXT_BYTES = 4_096

export function isMembershipChange(x: unknown): x is MembershipChange {
  if (typeof x !== 'object' || x === null) return false
  const c = x as Record<string, unknown>
  return (
    (c['type'] === 'add-learner' || c['type'] === 'promote' || c['type'] === 'remove') &&
    typeof c['id'] === 'string' && c['id'].length > 0 &&
    c['context'] instanceof Uint8Array && c['context'].length <= MAX_CHANGE_CONTEXT_BYTES
  )
}

/** `Snapshot.memberContexts` as decoded from the wire or the disk: a context per member at most. */
export function isMemberContexts(x: unknown): x is Readonly<Record<NodeId, Uint8Array>> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false
  const entries = Object.entries(x)
  return entries.length <= MAX_ROSTER && entries.every(([id, c]) => id.length > 0 && c instanceof Uint8Array && c.length <= MAX_CHANGE_CONTEXT_BYTES)
}

/** The membership fields of an entry whose `type` is 'membership' are well formed. */
export function isMembershipEntryBody(e: Readonly<Record<string, unknown>>): boolean {
  return isMembershipChange(e['change']) && isMembership(e['membership'])
}

/** Two memberships list the same voters, learners and roster (in the same order). */
export function sameMembership(a: Membership, b: Membership): boolean {
  const same = (x: readonly NodeId[], y: readonly NodeId[]): boolean => x.length === y.length && x.every((id, i) => id === y[i])
  return same(a.voters, b.voters) && same(a.learners, b.learners) && same(a.roster, b.roster)
}

/** Two changes are the same request. */
export function sameChange(a: MembershipChange, b: MembershipChange): boolean {
  return a.type === b.type && a.id === b.id && a.context.length === b.context.length && a.context.every((byte, i) => byte === b.context[i])
}
