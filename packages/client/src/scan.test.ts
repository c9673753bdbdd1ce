import { describe, expect, it } from 'vitest'
import { mergeScanParts } from './scan.js'

describe('mergeScanParts', () => {
  const part = (keys: string[], more: boolean) => ({ entries: keys.map((k) => [k, new Uint8Array()] as const), more })
  it('merges the groups\' parts in key order and stops where the first truncated part stops', () => {
    const page = mergeScanParts([part(['a', 'd', 'f'], true), part(['b', 'c', 'e', 'g'], false)], 10, false)
    expect(page.entries.map(([k]) => k)).toEqual(['a', 'b', 'c', 'd', 'e', 'f'])
    expect(page.more).toBe(true)
  })
  it('cuts at the limit, and merges descending with reverse', () => {
    expect(mergeScanParts([part(['a', 'c'], false), part(['b'], false)], 2, false)).toMatchObject({ more: true })
    const page = mergeScanParts([part(['z', 'x'], true), part(['y', 'w'], false)], 10, true)
    expect(page.entries.map(([k]) => k)).toEqual(['z', 'y', 'x'])
  })
  it('says no more when no part was truncated and all fit', () => {
    expect(mergeScanParts([part(['a'], false), part([], false)], 5, false)).toMatchObject({ more: false })
  })
})
