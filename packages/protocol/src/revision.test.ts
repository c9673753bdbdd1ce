import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { prefixEnd } from './key-range.js'
import { compareRevisions, formatRevision, parseRevision, type WireRevision } from './revision.js'

const revision = fc.tuple(fc.nat({ max: 1e6 }), fc.nat({ max: 1e12 })).map((r) => r as WireRevision)

describe('revisions', () => {
  it('order by epoch first, then by log index', () => {
    expect(compareRevisions([1, 900], [2, 1])).toBeLessThan(0)
    expect(compareRevisions([2, 5], [2, 7])).toBeLessThan(0)
    expect(compareRevisions([3, 7], [3, 7])).toBe(0)
    expect(compareRevisions([4, 0], [3, 1e9])).toBeGreaterThan(0)
  })

  it('compare as a total order, the same as the pair compared lexicographically', () => {
    fc.assert(
      fc.property(revision, revision, (a, b) => {
        const lexical = a[0] - b[0] || a[1] - b[1]
        expect(Math.sign(compareRevisions(a, b))).toBe(Math.sign(lexical))
        expect(Math.sign(compareRevisions(b, a))).toBe(-Math.sign(lexical))
      }),
    )
  })

  it('print as "<epoch>.<index>" and parse back; anything else is not a revision', () => {
    fc.assert(fc.property(revision, (r) => {
      expect(parseRevision(formatRevision(r))).toEqual(r)
    }))
    for (const bad of ['', '1', '1.', '.1', '1.2.3', '-1.2', '1.x', ' 1.2', '99999999999999999.1']) expect(parseRevision(bad), bad).toBeNull()
  })
})

describe('prefixEnd', () => {
  it('is the first string past every string with the prefix', () => {
    expect(prefixEnd('chat/')).toBe('chat0')
    expect(prefixEnd('a\uffff')).toBe('b')
    expect(prefixEnd('')).toBeNull()
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string(), (prefix, rest) => {
        const end = prefixEnd(prefix)
        if (end !== null) expect(prefix + rest < end).toBe(true)
      }),
    )
  })
})
