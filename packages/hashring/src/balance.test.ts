import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { HashRing } from './ring.js'

const KEYS = 100_000
const sequentialKeys = Array.from({ length: KEYS }, (_, i) => `key-${i}`)
// Random printable keys of 1..24 characters from a fixed seed: the same keys on every run.
const randomKeys = fc.sample(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 24 }), { numRuns: KEYS, seed: 20_240_601 })
const groupIds = (n: number) => Array.from({ length: n }, (_, k) => `g${k + 1}`)
const groupCounts = Array.from({ length: 15 }, (_, k) => k + 2) // 2..16

function keysPerGroup(ring: HashRing, keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>(ring.groups.map((g) => [g, 0]))
  for (const key of keys) {
    const owner = ring.ownerOf(key)
    counts.set(owner, counts.get(owner)! + 1)
  }
  return counts
}

/** The largest relative distance of a group's key count from the mean. */
function worstSkew(counts: Map<string, number>, keys: number): number {
  const mean = keys / counts.size
  return Math.max(...[...counts.values()].map((count) => Math.abs(count - mean) / mean))
}

describe('balance with 128 vnodes per group', () => {
  it.each(groupCounts)('%i groups each hold 100,000 sequential keys within 15 % of the mean', (n) => {
    const ring = new HashRing({ groups: groupIds(n), vnodesPerGroup: 128 })
    expect(worstSkew(keysPerGroup(ring, sequentialKeys), KEYS)).toBeLessThan(0.15)
  })

  it.each(groupCounts)('%i groups each hold 100,000 random keys within 15 % of the mean', (n) => {
    const ring = new HashRing({ groups: groupIds(n), vnodesPerGroup: 128 })
    expect(worstSkew(keysPerGroup(ring, randomKeys), KEYS)).toBeLessThan(0.15)
  })
})

describe('moving keys between rings', () => {
  it.each(Array.from({ length: 15 }, (_, k) => k + 1))(
    'adding a group to %i moves about 1/(N+1) of the keys, all of them to the new group',
    (n) => {
      const before = new HashRing({ groups: groupIds(n) })
      const newGroup = `g${n + 1}`
      const after = new HashRing({ groups: [...before.groups, newGroup] })
      let moved = 0
      const movedElsewhere: string[] = []
      for (const key of sequentialKeys) {
        const owner = after.ownerOf(key)
        if (owner === before.ownerOf(key)) continue
        moved++
        if (owner !== newGroup) movedElsewhere.push(key)
      }
      expect(movedElsewhere).toEqual([])
      const movedShare = moved / KEYS
      expect(movedShare).toBeLessThan(2 / (n + 1))
      expect(movedShare).toBeGreaterThan(0.5 / (n + 1))
    },
  )

  it.each(Array.from({ length: 15 }, (_, k) => k + 2))('removing a group from %i moves only that group’s keys', (n) => {
    const before = new HashRing({ groups: groupIds(n) })
    const removed = before.groups[Math.floor(n / 2)]!
    const after = new HashRing({ groups: before.groups.filter((g) => g !== removed) })
    const receivers = new Set<string>()
    const movedNeedlessly: string[] = []
    for (const key of sequentialKeys) {
      const owner = before.ownerOf(key)
      if (owner === removed) receivers.add(after.ownerOf(key))
      else if (after.ownerOf(key) !== owner) movedNeedlessly.push(key)
    }
    expect(movedNeedlessly).toEqual([])
    // The removed group's keys spread over the others rather than landing on one neighbour.
    expect(receivers.size).toBe(n - 1)
  })
})
