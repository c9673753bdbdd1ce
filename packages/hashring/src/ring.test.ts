import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { arcContains, arcLength, RING_SIZE } from './arc.js'
import { limits, type RingSpec } from './limits.js'
import { buildArcTable, HashRing, placePoints, pointPosition } from './ring.js'

const MAX_HASH = 0xffffffff
const groupIds = (n: number) => Array.from({ length: n }, (_, k) => `g${k + 1}`)

/** A small random spec: 1..8 groups out of g1..g12, 1..32 vnodes each. */
const smallSpec = fc.record({
  groups: fc.uniqueArray(fc.constantFrom(...groupIds(12)), { minLength: 1, maxLength: 8 }),
  vnodesPerGroup: fc.integer({ min: 1, max: 32 }),
})

describe('arcContains', () => {
  it.each([
    ['an arc below 2^32 holds its end', { start: 10, end: 20 }, 20, true],
    ['an arc below 2^32 does not hold its start', { start: 10, end: 20 }, 10, false],
    ['an arc below 2^32 holds what lies between', { start: 10, end: 20 }, 11, true],
    ['an arc below 2^32 does not hold what lies past its end', { start: 10, end: 20 }, 21, false],
    ['a wrapping arc holds the top of the circle', { start: 100, end: 5 }, MAX_HASH, true],
    ['a wrapping arc holds 0', { start: 100, end: 5 }, 0, true],
    ['a wrapping arc holds its end', { start: 100, end: 5 }, 5, true],
    ['a wrapping arc does not hold its start', { start: 100, end: 5 }, 100, false],
    ['a wrapping arc does not hold the middle', { start: 100, end: 5 }, 50, false],
    ['the whole circle holds its own end', { start: 7, end: 7 }, 7, true],
    ['the whole circle holds anything', { start: 7, end: 7 }, 123_456, true],
  ])('%s', (_name, arc, hash, expected) => {
    expect(arcContains(arc, hash)).toBe(expected)
  })

  it('counts the hashes of an arc, the whole circle being 2^32', () => {
    expect(arcLength({ start: 10, end: 20 })).toBe(10)
    expect(arcLength({ start: MAX_HASH, end: 0 })).toBe(1)
    expect(arcLength({ start: 7, end: 7 })).toBe(RING_SIZE)
  })
})

describe('HashRing lookups', () => {
  const ring = new HashRing({ groups: groupIds(4) })

  it('gives a hash above the last point to the group of the first point (wrap-around)', () => {
    const arcs = ring.arcs()
    const first = arcs[0]!
    const last = arcs[arcs.length - 1]!
    expect(first.start).toBe(last.end) // the first arc is the one that wraps
    expect(last.end).toBeLessThan(MAX_HASH)
    expect(ring.ownerOfHash(last.end + 1)).toBe(first.group)
    expect(ring.ownerOfHash(MAX_HASH)).toBe(first.group)
    expect(ring.ownerOfHash(0)).toBe(first.group)
    expect(ring.ownerOfHash(last.end)).toBe(last.group)
  })

  it('gives a hash exactly on a point to the arc that point ends, not the next one', () => {
    for (const arc of ring.arcs()) {
      expect(ring.ownerOfHash(arc.end)).toBe(arc.group)
      expect(ring.ownerOfHash(arc.start)).not.toBe(arc.group)
    }
  })

  it('gives the whole circle to the only group of a one-group ring', () => {
    const solo = new HashRing({ groups: ['g1'] })
    const arcs = solo.arcs()
    expect(arcs).toHaveLength(1)
    expect(arcs[0]!.start).toBe(arcs[0]!.end)
    expect(arcLength(arcs[0]!)).toBe(RING_SIZE)
    for (const hash of [0, 1, arcs[0]!.end, MAX_HASH]) expect(solo.ownerOfHash(hash)).toBe('g1')
    fc.assert(fc.property(fc.string(), (key) => solo.ownerOf(key) === 'g1'))
  })

  it('finds every arc of a ring with more arcs than lookup buckets', () => {
    // 128 groups × 256 vnodes × 4 points ≈ 2^17 arcs over 2^16 buckets: several arcs per bucket.
    const big = new HashRing({ groups: Array.from({ length: 128 }, (_, k) => `g${k}`), vnodesPerGroup: 256 })
    expect(big.arcCount).toBeGreaterThan(2 ** limits.maxLookupBucketBits)
    const misplaced = big.arcs().filter((arc) => big.ownerOfHash(arc.end) !== arc.group || big.ownerOfHash((arc.start + 1) % RING_SIZE) !== arc.group)
    expect(misplaced).toEqual([])
  })

  it('answers ownsHash for the owner only', () => {
    const arc = ring.arcs()[3]!
    expect(ring.ownsHash(arc.group, arc.end)).toBe(true)
    expect(ring.ownsHash(arc.group, arc.start)).toBe(false)
  })

  it('has arcs that tile the circle, alternate owners and agree with ownerOfHash', () => {
    fc.assert(
      fc.property(smallSpec, fc.array(fc.integer({ min: 0, max: MAX_HASH }), { maxLength: 50 }), (spec, hashes) => {
        const r = new HashRing(spec)
        const arcs = r.arcs()
        expect(arcs.reduce((sum, arc) => sum + arcLength(arc), 0)).toBe(RING_SIZE)
        for (let i = 1; i < arcs.length; i++) {
          expect(arcs[i]!.start).toBe(arcs[i - 1]!.end)
          expect(arcs[i]!.group).not.toBe(arcs[i - 1]!.group)
        }
        const boundaries = arcs.slice(0, 16).flatMap((a) => [a.end, (a.end + 1) % RING_SIZE])
        for (const hash of [...hashes, ...boundaries]) {
          const holders = arcs.filter((arc) => arcContains(arc, hash))
          expect(holders).toHaveLength(1)
          expect(holders[0]!.group).toBe(r.ownerOfHash(hash))
        }
      }),
      { numRuns: 100 },
    )
  })
})

describe('HashRing placement', () => {
  it('puts point j of vnode i of group g at MurmurHash3(`${g}#${i}`, seed j)', () => {
    const ring = new HashRing({ groups: ['g1', 'g2'], vnodesPerGroup: 3 })
    const points = new Map<number, string>()
    for (const group of ring.groups) {
      for (let vnode = 0; vnode < 3; vnode++) {
        for (let point = 0; point < limits.pointsPerVnode; point++) points.set(pointPosition(group, vnode, point), group)
      }
    }
    expect(points.size).toBe(2 * 3 * limits.pointsPerVnode) // no collision in this small ring
    for (const arc of ring.arcs()) expect(points.get(arc.end)).toBe(arc.group)
    for (const [position, group] of points) expect(ring.ownerOfHash(position)).toBe(group)
  })

  it('keeps the pinned arcs of a small ring (a change of placement re-places every key)', () => {
    const ring = new HashRing({ groups: ['g1', 'g2'], vnodesPerGroup: 1 })
    expect(ring.arcs()).toEqual([
      { start: 3050512658, end: 41160658, group: 'g2' },
      { start: 41160658, end: 1250369541, group: 'g1' },
      { start: 1250369541, end: 2107533083, group: 'g2' },
      { start: 2107533083, end: 2155294586, group: 'g1' },
      { start: 2155294586, end: 2580760868, group: 'g2' },
      { start: 2580760868, end: 3050512658, group: 'g1' },
    ])
  })

  it('gives a position two groups share to the group whose id sorts first', () => {
    // Ranks: 0 = 'a', 1 = 'b'. Both have a point at 10; only 'b' at 20.
    const packed = Float64Array.from([20 * limits.maxGroups + 1, 10 * limits.maxGroups + 1, 10 * limits.maxGroups + 0]).sort()
    const table = buildArcTable(packed, [0, 1])
    expect([...table.ends]).toEqual([10, 20])
    expect([...table.owners]).toEqual([0, 1])
  })

  it('merges the last arc into the first when one group owns both sides of 0', () => {
    const packed = Float64Array.from([5 * limits.maxGroups + 0, 10 * limits.maxGroups + 1, 20 * limits.maxGroups + 0])
    const table = buildArcTable(packed, [0, 1])
    expect([...table.ends]).toEqual([5, 10])
    expect([...table.owners]).toEqual([0, 1])
  })

  it('places points in position order, then id order', () => {
    const packed = placePoints(['b', 'a'], 2)
    for (let i = 1; i < packed.length; i++) expect(packed[i - 1]!).toBeLessThan(packed[i]!)
    expect(packed).toHaveLength(2 * 2 * limits.pointsPerVnode)
  })

  it('depends on the set of groups, not on their order in the spec', () => {
    const specAndShuffle = smallSpec.chain((spec) =>
      fc.tuple(fc.constant(spec), fc.shuffledSubarray(spec.groups, { minLength: spec.groups.length })),
    )
    fc.assert(
      fc.property(specAndShuffle, ([spec, shuffled]) => {
        const a = new HashRing(spec)
        const b = new HashRing({ ...spec, groups: shuffled })
        expect(b.arcs()).toEqual(a.arcs())
      }),
      { numRuns: 50 },
    )
  })
})

describe('HashRing immutability', () => {
  it('cannot be changed through its groups, its arcs or its spec', () => {
    const groups = ['g1', 'g2', 'g3']
    const ring = new HashRing({ groups, vnodesPerGroup: 8 })
    const before = ring.arcs()
    groups.push('g4')
    expect(Object.isFrozen(ring.groups)).toBe(true)
    expect(ring.groups).toEqual(['g1', 'g2', 'g3'])
    const arcs = ring.arcs() as { group: string }[]
    arcs[0]!.group = 'g9'
    ring.spec.groups.push('g5')
    expect(ring.arcs()).toEqual(before)
    expect(ring.spec).toEqual({ groups: ['g1', 'g2', 'g3'], vnodesPerGroup: 8 })
  })

  it('is rebuilt exactly from its spec', () => {
    const ring = new HashRing({ groups: groupIds(5) })
    expect(ring.vnodesPerGroup).toBe(limits.defaultVnodesPerGroup)
    expect(new HashRing(ring.spec).arcs()).toEqual(ring.arcs())
  })

  it('serializes to JSON as its spec', () => {
    const ring = new HashRing({ groups: ['g2', 'g1'], vnodesPerGroup: 16 })
    const json = JSON.stringify(ring)
    expect(JSON.parse(json)).toEqual({ groups: ['g2', 'g1'], vnodesPerGroup: 16 })
    expect(new HashRing(JSON.parse(json) as RingSpec).arcs()).toEqual(ring.arcs())
  })
})
