import { createRng } from '@kv/consensus'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { faultGapMaxMs, faultGapMinMs, faultMaxMs, faultMinMs } from './limits.js'
import { drawSchedule, faultKinds } from './schedule.js'

const groups = ['ctl', 'g1', 'g2']

describe('drawSchedule', () => {
  it('draws the same schedule from the same seed, another from another seed', () => {
    const a = drawSchedule(createRng(7), { phaseMs: 60_000, groups })
    expect(drawSchedule(createRng(7), { phaseMs: 60_000, groups })).toEqual(a)
    expect(drawSchedule(createRng(8), { phaseMs: 60_000, groups })).not.toEqual(a)
  })

  it('starts faults gapMin..gapMax apart, each lasting min..max and healed within the phase', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 600_000 }), (seed, phaseMs) => {
      const intents = drawSchedule(createRng(seed), { phaseMs, groups })
      let previous = 0
      for (const i of intents) {
        expect(i.atMs - previous).toBeGreaterThanOrEqual(faultGapMinMs)
        expect(i.atMs - previous).toBeLessThanOrEqual(faultGapMaxMs)
        expect(i.durationMs).toBeGreaterThanOrEqual(faultMinMs)
        expect(i.durationMs).toBeLessThanOrEqual(faultMaxMs)
        expect(i.atMs + i.durationMs).toBeLessThanOrEqual(phaseMs)
        expect(groups).toContain(i.group)
        expect(faultKinds).toContain(i.kind)
        expect(i.pick).toBeGreaterThanOrEqual(0)
        expect(i.pick).toBeLessThan(1)
        previous = i.atMs
      }
      // Drawing stopped only when the next start came too late for the shortest fault.
      expect(previous + faultGapMaxMs + faultMinMs).toBeGreaterThan(phaseMs)
    }), { numRuns: 200 })
  })

  it('draws every fault kind and every group over a ten-minute phase', () => {
    const intents = drawSchedule(createRng(1), { phaseMs: 600_000, groups })
    expect(new Set(intents.map((i) => i.kind))).toEqual(new Set(faultKinds))
    expect(new Set(intents.map((i) => i.group))).toEqual(new Set(groups))
    expect(intents.length).toBeGreaterThan(200)
  })

  it('draws nothing for a phase too short for one fault', () => {
    expect(drawSchedule(createRng(3), { phaseMs: faultGapMinMs + faultMinMs - 1, groups })).toEqual([])
  })

  it('refuses options that could not draw', () => {
    expect(() => drawSchedule(createRng(1), { phaseMs: 1000, groups: [] })).toThrow(RangeError)
    expect(() => drawSchedule(createRng(1), { phaseMs: 1000, groups, kinds: [] })).toThrow(RangeError)
    expect(() => drawSchedule(createRng(1), { phaseMs: 1000, groups, gapMinMs: 0 })).toThrow(RangeError)
    expect(() => drawSchedule(createRng(1), { phaseMs: 1000, groups, minMs: 5, maxMs: 4 })).toThrow(RangeError)
  })
})
