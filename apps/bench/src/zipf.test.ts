import { createRng } from '@kv/consensus'
import { describe, expect, it } from 'vitest'
import { fnv1a, ScrambledZipfian, YCSB_ZIPFIAN_THETA, zeta, Zipfian } from './zipf.js'

function counts(n: number, draws: number, next: () => number): number[] {
  const c = new Array<number>(n).fill(0)
  for (let i = 0; i < draws; i++) {
    const k = next()
    expect(Number.isInteger(k) && k >= 0 && k < n).toBe(true)
    c[k]!++
  }
  return c
}

describe('Zipfian (YCSB, θ = 0.99)', () => {
  const n = 1000
  const draws = 200_000
  const zipf = new Zipfian(n, createRng(7))
  const c = counts(n, draws, () => zipf.next())

  it('draws ranks 0 and 1 exactly as often as 1/(r+1)^θ / ζ(n) says, the others as closely as YCSB does', () => {
    const off = (rank: number) => Math.abs(c[rank]! / draws / zipf.probability(rank) - 1)
    expect(off(0)).toBeLessThan(0.03)
    expect(off(1)).toBeLessThan(0.04)
    // Past rank 1 Gray's method follows a continuous approximation: rank 2 comes ~17 % too often
    // (YCSB's generator the same), and the error shrinks further down.
    expect(off(2)).toBeLessThan(0.25)
    expect(off(9)).toBeLessThan(0.1)
    // Rank 0 is drawn about 2^θ times as often as rank 1.
    expect(c[0]! / c[1]!).toBeGreaterThan(1.8)
    expect(c[0]! / c[1]!).toBeLessThan(2.2)
  })

  it('matches the distribution as a whole (largest gap between the two CDFs under 2.5 %)', () => {
    let empirical = 0
    let theoretical = 0
    let worst = 0
    for (let r = 0; r < n; r++) {
      empirical += c[r]! / draws
      theoretical += zipf.probability(r)
      worst = Math.max(worst, Math.abs(empirical - theoretical))
    }
    expect(worst).toBeLessThan(0.025)
  })

  it('is skewed as YCSB-A means it: the top 10 % of keys take most calls, and the tail is still reached', () => {
    const top = c.slice(0, n / 10).reduce((a, b) => a + b, 0) / draws
    expect(top).toBeGreaterThan(0.6)
    expect(c.slice(n / 2).filter((x) => x > 0).length).toBeGreaterThan(n / 2 - 50)
  })

  it('is the same sequence for the same seed', () => {
    const a = new Zipfian(n, createRng(3))
    const b = new Zipfian(n, createRng(3))
    expect(Array.from({ length: 50 }, () => a.next())).toEqual(Array.from({ length: 50 }, () => b.next()))
  })

  it('refuses fewer than two items and a θ outside (0, 1)', () => {
    expect(() => new Zipfian(1, createRng(1))).toThrow(RangeError)
    expect(() => new Zipfian(10, createRng(1), 1)).toThrow(RangeError)
    expect(() => new Zipfian(10, createRng(1), 0)).toThrow(RangeError)
  })

  it('computes ζ', () => {
    expect(zeta(1, YCSB_ZIPFIAN_THETA)).toBe(1)
    expect(zeta(2, 0.5)).toBeCloseTo(1 + 1 / Math.SQRT2, 12)
  })
})

describe('ScrambledZipfian', () => {
  it('keeps the skew but scatters the popular keys over the key space', () => {
    const n = 1000
    const draws = 100_000
    const z = new ScrambledZipfian(n, createRng(11))
    const c = counts(n, draws, () => z.next())
    const sorted = [...c].sort((a, b) => b - a)
    const p0 = new Zipfian(n, createRng(1)).probability(0)
    // The hottest key is as hot as rank 0 (or hotter, when the hash folds two ranks together)...
    expect(sorted[0]! / draws).toBeGreaterThan(p0 * 0.9)
    // ...but it is not key 0, and the ten hottest keys are not the first ten.
    const hottest = c.indexOf(sorted[0]!)
    expect(hottest).toBe(fnv1a(0) % n)
    const top10 = c.map((x, i) => [x, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 10).map(([, i]) => i)
    expect(top10.filter((i) => i < 10).length).toBeLessThan(3)
  })
})
