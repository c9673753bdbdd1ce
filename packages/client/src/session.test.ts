import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { WriteSession } from './session.js'

describe('WriteSession', () => {
  it('numbers writes 1, 2, 3 under one random client id', () => {
    const s = new WriteSession()
    expect(s.clientId).toMatch(/^[0-9a-f-]{36}$/)
    expect([s.issue(), s.issue(), s.issue()]).toEqual([1, 2, 3])
    expect(new WriteSession().clientId).not.toBe(s.clientId)
  })

  it('holds the watermark below a write that is still unsettled', () => {
    const s = new WriteSession('c')
    for (let i = 0; i < 3; i++) s.issue()
    s.settle(3)
    expect(s.ackedSeq).toBe(0)
    s.settle(1)
    expect(s.ackedSeq).toBe(1)
    s.settle(2)
    expect(s.ackedSeq).toBe(3)
    expect(s.settledAboveCount).toBe(0)
  })

  it('sends ackedSeq 0 until a write was answered, so the replicas never see an unknown session with a watermark', () => {
    const s = new WriteSession('c')
    s.issue()
    s.settle(1) // abandoned before any replica applied it: no session exists there
    expect(s.ackedSeq).toBe(1)
    expect(s.wireAckedSeq).toBe(0)
    s.markEstablished()
    expect(s.wireAckedSeq).toBe(1)
  })

  it('ignores a second settle of the same write', () => {
    const s = new WriteSession('c')
    s.issue()
    s.settle(1)
    s.settle(1)
    expect(s.ackedSeq).toBe(1)
    expect(s.outstanding).toBe(0)
  })

  it('refuses to settle a seq it never issued', () => {
    const s = new WriteSession('c')
    expect(() => s.settle(1)).toThrow(/never issued/)
  })

  it('ends at the last seq whatever order the writes settle in', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }).chain((n) => fc.shuffledSubarray([...Array(n).keys()].map((i) => i + 1), { minLength: n, maxLength: n })), (order) => {
        const s = new WriteSession('c')
        for (let i = 0; i < order.length; i++) s.issue()
        const settled = new Set<number>()
        for (const seq of order) {
          s.settle(seq)
          settled.add(seq)
          // The watermark is exactly the longest settled prefix.
          let prefix = 0
          while (settled.has(prefix + 1)) prefix++
          expect(s.ackedSeq).toBe(prefix)
        }
        expect(s.ackedSeq).toBe(order.length)
      }),
    )
  })
})
