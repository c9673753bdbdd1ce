import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { arcContains, arcLength, RING_SIZE, type ArcMove } from './arc.js'
import { changedArcs } from './changed-arcs.js'
import { hashKey } from './murmur3.js'
import { HashRing } from './ring.js'

const MAX_HASH = 0xffffffff
const pool = Array.from({ length: 10 }, (_, k) => `g${k + 1}`)

/** Any ring over a few of g1..g10 with few vnodes, so arcs are long and moves many. */
const ringArb = fc
  .record({
    groups: fc.uniqueArray(fc.constantFrom(...pool), { minLength: 1, maxLength: 6 }),
    vnodesPerGroup: fc.integer({ min: 1, max: 8 }),
  })
  .map((spec) => new HashRing(spec))

/**
 * The contract of `changedArcs` for one hash: it lies in exactly one move, with its owners in
 * the two rings as `from` and `to`, iff its owner differs. Returns what is wrong, or null.
 */
function violation(from: HashRing, to: HashRing, moves: readonly ArcMove[], hash: number): string | null {
  const before = from.ownerOfHash(hash)
  const after = to.ownerOfHash(hash)
  const holding = moves.filter((move) => arcContains(move, hash))
  if (before === after) return holding.length === 0 ? null : `hash ${hash} kept its owner ${before} but lies in ${JSON.stringify(holding)}`
  if (holding.length === 1 && holding[0]!.from === before && holding[0]!.to === after) return null
  return `hash ${hash} moved ${before} → ${after} but lies in ${JSON.stringify(holding)}`
}

/** Every violation over `hashes`, plus the edges of both rings' arcs (end and end + 1). */
function violations(from: HashRing, to: HashRing, hashes: readonly number[]): string[] {
  const moves = changedArcs(from, to)
  // Off-by-ones in the (start, end] convention show at arc ends; a start is the previous end.
  const edges = [...from.arcs(), ...to.arcs()].flatMap(({ end }) => [end, (end + 1) % RING_SIZE])
  const found: string[] = []
  for (const hash of [...hashes, ...edges, 0, MAX_HASH]) {
    const problem = violation(from, to, moves, hash)
    if (problem !== null) found.push(problem)
  }
  return found
}

describe('changedArcs', () => {
  it('puts a key in exactly one move, with its owners, iff its owner differs between the rings', () => {
    fc.assert(
      fc.property(
        ringArb,
        ringArb,
        fc.array(fc.string(), { maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: MAX_HASH }), { maxLength: 30 }),
        (from, to, keys, hashes) => {
          expect(violations(from, to, [...keys.map(hashKey), ...hashes])).toEqual([])
        },
      ),
      { numRuns: 150 },
    )
  })

  it('returns disjoint, sorted moves, merged wherever two adjacent ones share from and to', () => {
    fc.assert(
      fc.property(ringArb, ringArb, (from, to) => {
        const moves = changedArcs(from, to)
        const total = moves.reduce((sum, move) => sum + arcLength(move), 0)
        expect(total).toBeLessThanOrEqual(RING_SIZE)
        for (let i = 1; i < moves.length; i++) {
          const [previous, move] = [moves[i - 1]!, moves[i]!]
          expect(previous.end).toBeLessThan(move.end)
          expect(move.start).toBeGreaterThanOrEqual(previous.end)
          if (move.start === previous.end) expect([move.from, move.to]).not.toEqual([previous.from, previous.to])
        }
        if (moves.length > 1) {
          const [first, last] = [moves[0]!, moves[moves.length - 1]!]
          if (first.start === last.end) expect([first.from, first.to]).not.toEqual([last.from, last.to])
        }
      }),
      { numRuns: 100 },
    )
  })

  it('finds nothing to move between a ring and itself, or a ring with its groups reordered', () => {
    const ring = new HashRing({ groups: ['g1', 'g2', 'g3'] })
    expect(changedArcs(ring, ring)).toEqual([])
    expect(changedArcs(ring, new HashRing({ groups: ['g3', 'g1', 'g2'] }))).toEqual([])
  })

  it('moves the whole circle as one move when one group hands over to another', () => {
    const moves = changedArcs(new HashRing({ groups: ['g1'] }), new HashRing({ groups: ['g2'] }))
    expect(moves).toHaveLength(1)
    expect(moves[0]).toMatchObject({ from: 'g1', to: 'g2' })
    expect(moves[0]!.start).toBe(moves[0]!.end)
  })

  it('moves arcs only to a group that was added, and only from one that was removed', () => {
    const three = new HashRing({ groups: ['g1', 'g2', 'g3'] })
    const four = new HashRing({ groups: ['g1', 'g2', 'g3', 'g4'] })
    const added = changedArcs(three, four)
    expect(added.length).toBeGreaterThan(0)
    expect(new Set(added.map((move) => move.to))).toEqual(new Set(['g4']))
    const share = added.reduce((sum, move) => sum + arcLength(move), 0) / RING_SIZE
    expect(share).toBeGreaterThan(0.25 * 0.85)
    expect(share).toBeLessThan(0.25 * 1.15)
    const removed = changedArcs(four, three)
    expect(new Set(removed.map((move) => move.from))).toEqual(new Set(['g4']))
    expect(removed.map(({ start, end }) => [start, end])).toEqual(added.map(({ start, end }) => [start, end]))
  })

  it('handles rings of different vnode counts', () => {
    const from = new HashRing({ groups: ['g1', 'g2'], vnodesPerGroup: 2 })
    const to = new HashRing({ groups: ['g1', 'g2'], vnodesPerGroup: 3 })
    expect(violations(from, to, [])).toEqual([])
  })
})
