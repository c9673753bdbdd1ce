import { describe, expect, it } from 'vitest'
import { ENTRY_OVERHEAD_BYTES, entryBytes, takeWithinBytes } from './sizes.js'
import type { Entry } from './types.js'

const normal = (index: number, size: number): Entry => ({ type: 'normal', index, term: 1, data: new Uint8Array(size) })

describe('byte bounds', () => {
  it('counts an entry as its data plus a fixed overhead', () => {
    expect(entryBytes(normal(1, 100))).toBe(100 + ENTRY_OVERHEAD_BYTES)
    expect(entryBytes({ type: 'noop', index: 1, term: 1 })).toBe(ENTRY_OVERHEAD_BYTES)
  })

  it.each([
    ['all when they fit', [10, 10, 10], 3 * (10 + ENTRY_OVERHEAD_BYTES), 3],
    ['the prefix that fits', [10, 10, 10], 2 * (10 + ENTRY_OVERHEAD_BYTES) + 5, 2],
    ['one entry larger than the bound, alone', [1000, 10], 100, 1],
    ['nothing from nothing', [], 100, 0],
  ])('takes %s', (_name, sizes, maxBytes, count) => {
    const entries = sizes.map((size, i) => normal(i + 1, size))
    expect(takeWithinBytes(entries, maxBytes)).toEqual(entries.slice(0, count))
  })
})
