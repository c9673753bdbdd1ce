import { describe, expect, it } from 'vitest'
import { createRng } from './random.js'

describe('createRng', () => {
  it('replays the same sequence for the same seed', () => {
    const a = createRng(42), b = createRng(42)
    const xs = Array.from({ length: 100 }, () => a.next())
    const ys = Array.from({ length: 100 }, () => b.next())
    expect(xs).toEqual(ys)
  })
  it('gives different sequences for different seeds', () => {
    const a = createRng(1), b = createRng(2)
    expect(Array.from({ length: 8 }, () => a.int(1000))).not.toEqual(Array.from({ length: 8 }, () => b.int(1000)))
  })
  it('stays in range and is roughly uniform', () => {
    const r = createRng(7)
    const buckets = new Array<number>(10).fill(0)
    for (let i = 0; i < 100_000; i++) {
      const x = r.next()
      expect(x >= 0 && x < 1).toBe(true)
      buckets[Math.floor(x * 10)]!++
    }
    for (const n of buckets) expect(Math.abs(n - 10_000)).toBeLessThan(600)
  })
})
