import type { Arc } from './arc.js'
import { checkSpec, HashRingError, limits, type RingSpec } from './limits.js'
import { hashKey, murmur3Utf8 } from './murmur3.js'

/**
 * The position of point `point` (0..pointsPerVnode-1) of virtual node `vnode` of group `group`:
 * MurmurHash3_x86_32 of the UTF-8 bytes of `${group}#${vnode}` (vnode in decimal), seeded
 * with the point's number. It depends on nothing but the group's own id, so adding a group
 * never moves another group's points: that is what makes the ring consistent.
 */
export function pointPosition(group: string, vnode: number, point: number): number {
  return murmur3Utf8(`${group}#${vnode}`, point)
}

/**
 * Every point of every group, sorted by position, each packed in a float64 as
 * `position × maxGroups + rank` (exact below 2^53), where rank is the group's place in byte
 * order of the ids. Equal positions thus sort by rank: the smaller id comes first and wins.
 */
export function placePoints(groups: readonly string[], vnodesPerGroup: number): Float64Array {
  const ranked = [...groups].sort()
  const packed = new Float64Array(groups.length * vnodesPerGroup * limits.pointsPerVnode)
  let n = 0
  for (let rank = 0; rank < ranked.length; rank++) {
    const group = ranked[rank]!
    for (let vnode = 0; vnode < vnodesPerGroup; vnode++) {
      for (let point = 0; point < limits.pointsPerVnode; point++) {
        packed[n++] = pointPosition(group, vnode, point) * limits.maxGroups + rank
      }
    }
  }
  return packed.sort()
}

/** The ring's lookup table: arc ends ascending, and the index (into `groups`) of each arc's owner. */
export interface ArcTable {
  readonly ends: Uint32Array
  readonly owners: Uint16Array
}

/**
 * Collapses sorted packed points (`placePoints`) into arcs: a point at a position already
 * taken is dropped (the first, smallest-id group keeps it), and consecutive points of one
 * owner merge into one arc, across the wrap from the last point to the first too.
 * `ownerOfRank` maps a rank to the owner's index in the ring's `groups`.
 */
export function buildArcTable(packed: Float64Array, ownerOfRank: readonly number[]): ArcTable {
  const ends = new Uint32Array(packed.length)
  const owners = new Uint16Array(packed.length)
  let n = 0
  let lastPosition = -1
  for (const key of packed) {
    const position = Math.floor(key / limits.maxGroups)
    if (position === lastPosition) continue
    lastPosition = position
    const owner = ownerOfRank[key - position * limits.maxGroups]!
    if (n > 0 && owners[n - 1] === owner) {
      ends[n - 1] = position
    } else {
      ends[n] = position
      owners[n] = owner
      n++
    }
  }
  // The first arc starts after the last point: with the same owner they are one arc.
  if (n > 1 && owners[n - 1] === owners[0]) n--
  return { ends: ends.slice(0, n), owners: owners.slice(0, n) }
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`hashring invariant broken: ${message}`)
}

/**
 * A consistent-hashing ring: each group has `vnodesPerGroup` virtual nodes of
 * `limits.pointsPerVnode` points each on the circle of 2^32 hashes (see `pointPosition`), and
 * a hash belongs to the first point at or after it clockwise, wrapping from the last point to
 * the first. Fully defined by its spec (the set of groups and the vnode count); immutable.
 */
export class HashRing {
  /** The spec's group ids, in the spec's order (frozen). */
  readonly groups: readonly string[]
  readonly vnodesPerGroup: number
  /** Arc ends, ascending: arc k is (ends[k-1], ends[k]], arc 0 wrapping from the last end. */
  readonly #ends: Uint32Array
  /** The group that owns arc k. */
  readonly #ownerOfArc: readonly string[]
  /**
   * A lookup index over the top `32 - #bucketShift` bits of a hash: bucket b holds the hashes
   * [b << shift, (b + 1) << shift), and `#bucketFirstArc[b]` is the first arc ending in or after
   * it. With about two buckets per arc, a lookup searches 0..2 arcs instead of all of them.
   */
  readonly #bucketShift: number
  readonly #bucketFirstArc: Uint32Array

  /** Throws `HashRingError` on a bad spec (see `limits`). */
  constructor(spec: RingSpec) {
    const { groups, vnodesPerGroup } = checkSpec(spec)
    this.groups = Object.freeze([...groups])
    this.vnodesPerGroup = vnodesPerGroup
    const indexOf = new Map(this.groups.map((group, index) => [group, index]))
    const ownerOfRank = [...this.groups].sort().map((group) => indexOf.get(group)!)
    const table = buildArcTable(placePoints(this.groups, vnodesPerGroup), ownerOfRank)
    this.#ends = table.ends
    this.#ownerOfArc = Array.from(table.owners, (owner) => this.groups[owner]!)
    const bucketBits = Math.min(limits.maxLookupBucketBits, Math.ceil(Math.log2(table.ends.length)) + 1)
    this.#bucketShift = 32 - bucketBits
    this.#bucketFirstArc = bucketIndex(table.ends, bucketBits)
    this.invariants()
  }

  /** The spec that rebuilds this ring (copies; the controller stores it in the shard map). */
  get spec(): { groups: string[]; vnodesPerGroup: number } {
    return { groups: [...this.groups], vnodesPerGroup: this.vnodesPerGroup }
  }

  /** The number of arcs (maximal runs of one owner): the length of `arcs()`. */
  get arcCount(): number {
    return this.#ends.length
  }

  /** The group that owns `key`: `ownerOfHash(hashKey(key))`. */
  ownerOf(key: string): string {
    return this.#owner(hashKey(key))
  }

  /** The group that owns `hash`, an unsigned 32-bit integer; throws `HashRingError` otherwise. */
  ownerOfHash(hash: number): string {
    if (hash >>> 0 !== hash) throw new HashRingError('RING_BAD_HASH', `hash ${hash} is not an unsigned 32-bit integer`)
    return this.#owner(hash)
  }

  /** Whether `group` owns `hash`. */
  ownsHash(group: string, hash: number): boolean {
    return this.ownerOfHash(hash) === group
  }

  /**
   * The ring as arcs, each (start, end] with its owner, sorted by end; the first wraps through
   * 0 unless the ring has one arc (the whole circle, `start === end`). Adjacent arcs have
   * different owners. A fresh array on each call.
   */
  arcs(): Arc[] {
    const ends = this.#ends
    const n = ends.length
    const arcs: Arc[] = new Array<Arc>(n)
    for (let i = 0; i < n; i++) {
      arcs[i] = { start: ends[i === 0 ? n - 1 : i - 1]!, end: ends[i]!, group: this.#ownerOfArc[i]! }
    }
    return arcs
  }

  /** Checks the table's shape; the constructor calls it (O(arcs + buckets)). */
  invariants(): void {
    const ends = this.#ends
    const owners = this.#ownerOfArc
    const n = ends.length
    assert(n >= 1 && n === owners.length, 'one owner per arc, at least one arc')
    const groups = new Set(this.groups)
    for (let i = 0; i < n; i++) {
      assert(groups.has(owners[i]!), `owner ${owners[i]} of arc ${i} is a group of the ring`)
      if (i > 0) assert(ends[i - 1]! < ends[i]!, 'arc ends strictly ascending')
      if (n > 1) assert(owners[i] !== owners[(i + 1) % n], 'adjacent arcs have different owners')
    }
    const index = this.#bucketFirstArc
    assert(index[0] === 0 && index[index.length - 1] === n, 'the lookup index spans all arcs')
    for (let b = 1; b < index.length; b++) assert(index[b - 1]! <= index[b]!, 'the lookup index ascends')
  }

  #owner(hash: number): string {
    const ends = this.#ends
    // The first arc end at or after `hash`, searched among the arcs of its bucket; past the
    // last end the circle wraps to arc 0.
    const bucket = hash >>> this.#bucketShift
    let lo = this.#bucketFirstArc[bucket]!
    let hi = this.#bucketFirstArc[bucket + 1]!
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (ends[mid]! < hash) lo = mid + 1
      else hi = mid
    }
    return this.#ownerOfArc[lo === ends.length ? 0 : lo]!
  }
}

/**
 * For each of the 2^bits buckets of hashes (and one past the last), the first arc whose end is
 * at or above the bucket's lowest hash; the entry past the last is the number of arcs.
 */
function bucketIndex(ends: Uint32Array, bits: number): Uint32Array {
  const buckets = 2 ** bits
  const bucketSize = 2 ** (32 - bits)
  const first = new Uint32Array(buckets + 1)
  let arc = 0
  for (let b = 0; b < buckets; b++) {
    const lowest = b * bucketSize
    while (arc < ends.length && ends[arc]! < lowest) arc++
    first[b] = arc
  }
  first[buckets] = ends.length
  return first
}
