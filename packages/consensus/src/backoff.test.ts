import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { backoffMs } from './backoff.js'

describe('backoffMs', () => {
  const bounds = { minMs: 10, maxMs: 250 }

  it('doubles per round up to the ceiling', () => {
    const top = () => 0.999999
    expect([0, 1, 2, 3, 4, 5, 40].map((r) => Math.round(backoffMs(r, bounds, top)))).toEqual([10, 20, 40, 80, 160, 250, 250])
  })

  it('stays within its bounds for any round and any draw', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (round, draw) => {
        const ms = backoffMs(round, bounds, () => draw)
        expect(ms).toBeGreaterThanOrEqual(bounds.minMs)
        expect(ms).toBeLessThanOrEqual(bounds.maxMs)
      }),
    )
  })
})
