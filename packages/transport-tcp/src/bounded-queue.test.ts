import { describe, expect, it } from 'vitest'
import { DropOldestQueue } from './bounded-queue.js'

describe('DropOldestQueue', () => {
  it('is first in, first out below capacity', () => {
    const q = new DropOldestQueue<number>(100)
    for (let i = 0; i < 50; i++) expect(q.push(i)).toBeUndefined()
    const out: number[] = []
    for (let v = q.shift(); v !== undefined; v = q.shift()) out.push(v)
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })

  it('when full, evicts and returns the oldest item, keeping the newest', () => {
    const q = new DropOldestQueue<number>(3)
    const evicted = [1, 2, 3, 4, 5].map((n) => q.push(n))
    expect(evicted).toEqual([undefined, undefined, undefined, 1, 2])
    expect(q.length).toBe(3)
    expect([q.shift(), q.shift(), q.shift(), q.shift()]).toEqual([3, 4, 5, undefined])
  })

  it('keeps order across wrap-around and growth', () => {
    const q = new DropOldestQueue<number>(1000)
    let next = 0
    let expected = 0
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 7; i++) q.push(next++)
      for (let i = 0; i < 5; i++) expect(q.shift()).toBe(expected++)
    }
    expect(q.length).toBe(400)
    expect(q.peek()).toBe(expected)
  })

  it('with a byte bound, evicts the oldest until the newest fits, and always keeps the newest', () => {
    const q = new DropOldestQueue<number>(100, { maxBytes: 10, sizeOf: (n) => n })
    expect([q.push(4), q.push(4)]).toEqual([undefined, undefined])
    expect(q.bytes).toBe(8)
    expect(q.push(5)).toBe(4) // 4 + 4 + 5 > 10: the oldest goes
    expect(q.lastEvictions).toBe(1)
    expect(q.push(30)).toBe(4) // larger than the bound alone: everything else goes, it stays
    expect(q.lastEvictions).toBe(2)
    expect([q.length, q.bytes]).toEqual([1, 30])
    expect(q.shift()).toBe(30)
    expect(q.bytes).toBe(0)
  })

  it('trimTo keeps the newest n and counts what went', () => {
    const q = new DropOldestQueue<number>(100, { maxBytes: 1000, sizeOf: () => 1 })
    for (let i = 0; i < 10; i++) q.push(i)
    expect(q.trimTo(3)).toBe(7)
    expect(q.bytes).toBe(3)
    expect([q.shift(), q.shift(), q.shift(), q.shift()]).toEqual([7, 8, 9, undefined])
  })

  it('refuses a non-positive capacity', () => {
    expect(() => new DropOldestQueue(0)).toThrow(RangeError)
  })
})
