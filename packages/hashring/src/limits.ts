/**
 * Named bounds of a ring (TIGER_STYLE: every table has one), checked once where a spec enters,
 * in `new HashRing(spec)`.
 */
export const limits = {
  /** Virtual nodes per group when the spec names none. */
  defaultVnodesPerGroup: 128,
  /** Upper bound on `vnodesPerGroup`. */
  maxVnodesPerGroup: 4_096,
  /**
   * Ring points per virtual node (ketama's rule: each of its 40 hashes per server gives 4
   * points). Balance comes from points, not vnodes: a group's share of the circle has a
   * relative spread of about 1/sqrt(points per group), and at 128 points per group the worst
   * of 16 groups is routinely 20 % off the mean. 4 points per vnode (512 per group) keeps it
   * near 10 %. Part of the placement rule: changing it moves keys.
   */
  pointsPerVnode: 4,
  /** Groups in one ring at most (owner indices are stored as 16-bit). */
  maxGroups: 1_024,
  /** Ring points at most (groups × vnodesPerGroup × pointsPerVnode): 4 Mi points, ~40 MiB to build. */
  maxRingPoints: 4 * 1024 * 1024,
  /** Bits of the ring's lookup index at most: 2^16 buckets, 256 KiB per ring. */
  maxLookupBucketBits: 16,
  /** Characters in a group id at most (the cluster config's bound on ids). */
  maxGroupIdLength: 64,
} as const

/**
 * A group id: letters, digits, dot, dash and underscore, as replica ids in the cluster config.
 * ASCII only, so its UTF-8 bytes are its characters and its order is plain byte order, which
 * keeps the placement rule easy to reproduce in another language.
 */
export const GROUP_ID = /^[A-Za-z0-9._-]+$/

/** Why a spec or an argument was refused. */
export type HashRingErrorCode =
  | 'RING_NO_GROUPS'
  | 'RING_TOO_MANY_GROUPS'
  | 'RING_BAD_GROUP_ID'
  | 'RING_DUPLICATE_GROUP'
  | 'RING_BAD_VNODES'
  | 'RING_TOO_MANY_POINTS'
  | 'RING_BAD_HASH'

/** A ring spec the package refuses, or a hash that is not an unsigned 32-bit integer. */
export class HashRingError extends Error {
  readonly code: HashRingErrorCode
  constructor(code: HashRingErrorCode, message: string) {
    super(message)
    this.name = 'HashRingError'
    this.code = code
  }
}

/** What defines a ring completely: the controller's shard map carries one, with an epoch. */
export interface RingSpec {
  /** Shard group ids; their order does not matter (placement depends only on the set). */
  readonly groups: readonly string[]
  /** Virtual nodes per group, 1..`limits.maxVnodesPerGroup`; default `limits.defaultVnodesPerGroup`. */
  readonly vnodesPerGroup?: number
}

function check(condition: boolean, code: HashRingErrorCode, message: string): asserts condition {
  if (!condition) throw new HashRingError(code, message)
}

/** Validates `spec` (the gateway) and returns it with the default filled in. */
export function checkSpec(spec: RingSpec): { groups: readonly string[]; vnodesPerGroup: number } {
  const groups: unknown = spec.groups
  check(Array.isArray(groups) && groups.length > 0, 'RING_NO_GROUPS', 'a ring needs at least one group')
  check(
    groups.length <= limits.maxGroups,
    'RING_TOO_MANY_GROUPS',
    `a ring holds at most ${limits.maxGroups} groups, got ${groups.length}`,
  )
  const seen = new Set<string>()
  for (const id of groups as unknown[]) {
    check(
      typeof id === 'string' && id.length <= limits.maxGroupIdLength && GROUP_ID.test(id),
      'RING_BAD_GROUP_ID',
      `group id ${JSON.stringify(id)} must be 1..${limits.maxGroupIdLength} letters, digits, '.', '-' or '_'`,
    )
    check(!seen.has(id), 'RING_DUPLICATE_GROUP', `group id ${id} appears twice`)
    seen.add(id)
  }
  const vnodesPerGroup: unknown = spec.vnodesPerGroup ?? limits.defaultVnodesPerGroup
  check(
    typeof vnodesPerGroup === 'number' &&
      Number.isInteger(vnodesPerGroup) &&
      vnodesPerGroup >= 1 &&
      vnodesPerGroup <= limits.maxVnodesPerGroup,
    'RING_BAD_VNODES',
    `vnodesPerGroup must be an integer in 1..${limits.maxVnodesPerGroup}, got ${String(vnodesPerGroup)}`,
  )
  const points = groups.length * vnodesPerGroup * limits.pointsPerVnode
  check(
    points <= limits.maxRingPoints,
    'RING_TOO_MANY_POINTS',
    `${groups.length} groups × ${vnodesPerGroup} vnodes × ${limits.pointsPerVnode} points = ${points} ring points, above ${limits.maxRingPoints}`,
  )
  return { groups: groups as readonly string[], vnodesPerGroup }
}
