import { describe, expect, it } from 'vitest'
import { HashRingError, limits, type HashRingErrorCode, type RingSpec } from './limits.js'
import { HashRing } from './ring.js'

function refusal(build: () => unknown): HashRingErrorCode | 'no error' {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(HashRingError)
    return (error as HashRingError).code
  }
  return 'no error'
}

const many = (n: number) => Array.from({ length: n }, (_, k) => `g${k}`)

describe('HashRing refuses a bad spec', () => {
  it.each<[string, unknown, HashRingErrorCode]>([
    ['no groups', { groups: [] }, 'RING_NO_GROUPS'],
    ['groups that are not an array', { groups: 'g1' }, 'RING_NO_GROUPS'],
    ['more groups than the limit', { groups: many(limits.maxGroups + 1), vnodesPerGroup: 1 }, 'RING_TOO_MANY_GROUPS'],
    ['an empty group id', { groups: ['g1', ''] }, 'RING_BAD_GROUP_ID'],
    ['a group id with #', { groups: ['g#1'] }, 'RING_BAD_GROUP_ID'],
    ['a group id with a space', { groups: ['g 1'] }, 'RING_BAD_GROUP_ID'],
    ['a non-ASCII group id', { groups: ['gé'] }, 'RING_BAD_GROUP_ID'],
    ['a group id over the length limit', { groups: ['g'.repeat(limits.maxGroupIdLength + 1)] }, 'RING_BAD_GROUP_ID'],
    ['a group id that is not a string', { groups: [7] }, 'RING_BAD_GROUP_ID'],
    ['a duplicate group id', { groups: ['g1', 'g2', 'g1'] }, 'RING_DUPLICATE_GROUP'],
    ['zero vnodes', { groups: ['g1'], vnodesPerGroup: 0 }, 'RING_BAD_VNODES'],
    ['vnodes over the limit', { groups: ['g1'], vnodesPerGroup: limits.maxVnodesPerGroup + 1 }, 'RING_BAD_VNODES'],
    ['fractional vnodes', { groups: ['g1'], vnodesPerGroup: 1.5 }, 'RING_BAD_VNODES'],
    ['NaN vnodes', { groups: ['g1'], vnodesPerGroup: NaN }, 'RING_BAD_VNODES'],
    ['vnodes as a string', { groups: ['g1'], vnodesPerGroup: '8' }, 'RING_BAD_VNODES'],
    ['more ring points than the limit', { groups: many(limits.maxGroups), vnodesPerGroup: limits.maxVnodesPerGroup }, 'RING_TOO_MANY_POINTS'],
  ])('with %s', (_name, spec, code) => {
    expect(refusal(() => new HashRing(spec as RingSpec))).toBe(code)
  })

  it('accepts the extremes of each bound', () => {
    expect(refusal(() => new HashRing({ groups: ['g'.repeat(limits.maxGroupIdLength)], vnodesPerGroup: limits.maxVnodesPerGroup }))).toBe('no error')
    expect(refusal(() => new HashRing({ groups: ['A-z.0_9'], vnodesPerGroup: 1 }))).toBe('no error')
  })

  it('names the problem in the message', () => {
    expect(() => new HashRing({ groups: ['g1', 'g1'] })).toThrow(/g1 appears twice/)
  })
})

describe('HashRing refuses a bad hash', () => {
  const ring = new HashRing({ groups: ['g1', 'g2'] })
  it.each([-1, 0x1_0000_0000, 1.5, NaN])('%s', (hash) => {
    expect(refusal(() => ring.ownerOfHash(hash))).toBe('RING_BAD_HASH')
  })
})
