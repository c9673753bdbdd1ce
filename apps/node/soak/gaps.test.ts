import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { noFault, writeGaps } from './gaps.js'

describe('writeGaps', () => {
  it('attributes each gap to the faults active at its start, or to none', () => {
    const spans = [{ kind: 'kill', startMs: 100, endMs: 300 }]
    // Gaps: 0→50 (none), 50→90 (none), 90→250 (none: began before the kill), 250→400 (kill), 400→1000 (none).
    const g = writeGaps([50, 90, 250, 400], spans, 0, 1000)
    expect(g.get('kill')).toEqual({ faults: 1, longestGapMs: 150, atMs: 250 })
    expect(g.get(noFault)).toEqual({ faults: 0, longestGapMs: 600, atMs: 400 })
  })

  it('counts a gap for every kind active at its start when faults overlap', () => {
    const spans = [{ kind: 'pause', startMs: 0, endMs: 500 }, { kind: 'isolate', startMs: 100, endMs: 200 }, { kind: 'pause', startMs: 600, endMs: 700 }]
    const g = writeGaps([110, 520, 1000], spans, 0, 1000)
    expect(g.get('pause')).toEqual({ faults: 2, longestGapMs: 410, atMs: 110 })
    expect(g.get('isolate')).toEqual({ faults: 1, longestGapMs: 410, atMs: 110 })
    expect(g.get(noFault)).toEqual({ faults: 0, longestGapMs: 480, atMs: 520 })
  })

  it('ignores acknowledgements outside the window and accepts them unsorted', () => {
    const g = writeGaps([900, -5, 300, 2000, 600], [], 0, 1000)
    expect(g.get(noFault)).toEqual({ faults: 0, longestGapMs: 300, atMs: 0 })
  })

  it('spans the whole window when nothing was acknowledged', () => {
    const g = writeGaps([], [{ kind: 'halves', startMs: 0, endMs: 10 }], 0, 1000)
    expect(g.get('halves')).toEqual({ faults: 1, longestGapMs: 1000, atMs: 0 })
    expect(g.get(noFault)).toEqual({ faults: 0, longestGapMs: 0, atMs: null })
  })

  it('a fault ended by the time a gap begins does not get it', () => {
    const g = writeGaps([100, 900], [{ kind: 'link', startMs: 0, endMs: 100 }], 0, 1000)
    expect(g.get('link')).toEqual({ faults: 1, longestGapMs: 100, atMs: 0 })
    expect(g.get(noFault)?.longestGapMs).toBe(800)
  })

  it('refuses an empty window', () => {
    expect(() => writeGaps([], [], 10, 5)).toThrow(RangeError)
  })

  it('the longest gap over all kinds is the longest distance between consecutive points', () => {
    const span = fc.record({ kind: fc.constantFrom('kill', 'pause', 'link'), startMs: fc.integer({ min: 0, max: 1000 }), len: fc.integer({ min: 0, max: 300 }) })
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 40 }), fc.array(span, { maxLength: 6 }), (acks, raw) => {
      const spans = raw.map((s) => ({ kind: s.kind, startMs: s.startMs, endMs: s.startMs + s.len }))
      const points = [0, ...[...acks].sort((a, b) => a - b), 1000]
      const longest = Math.max(...points.slice(1).map((p, i) => p - points[i]!))
      const g = writeGaps(acks, spans, 0, 1000)
      expect(Math.max(...[...g.values()].map((s) => s.longestGapMs))).toBe(longest)
      for (const kind of ['kill', 'pause', 'link']) expect(g.get(kind)?.faults ?? 0).toBe(spans.filter((s) => s.kind === kind).length)
    }))
  })
})
