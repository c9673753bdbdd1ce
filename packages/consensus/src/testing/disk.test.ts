import { describe, expect, it } from 'vitest'
import type { Entry, Ready } from '../types.js'
import { SimDisk } from './disk.js'
import { decodeAppliedLog, encodeAppliedLog } from './snapshot-codec.js'

const e = (index: number, term = 1, text = `e${index}`): Entry => ({ type: 'normal', index, term, data: new TextEncoder().encode(text) })
const ready = (part: Partial<Ready>): Ready => ({
  hardState: null, snapshot: null, truncateFrom: null, entries: [], messagesNow: [], messagesAfterPersist: [],
  committed: [], readStates: [], ...part,
})

describe('SimDisk', () => {
  it('writes snapshot, then truncation, then entries, then hard state', () => {
    const disk = new SimDisk()
    disk.persist(ready({ entries: [e(1), e(2), e(3)], hardState: { term: 1, vote: 'n1', commit: 1 } }))
    disk.persist(ready({ truncateFrom: 2, entries: [e(2, 2, 'new')], hardState: { term: 2, vote: null, commit: 2 } }))
    expect(disk.indexes()).toEqual([1, 2])
    expect(disk.entryAt(2)?.term).toBe(2)
    expect(disk.hardState).toEqual({ term: 2, vote: null, commit: 2 })
  })

  it('drops entries a snapshot covers and hands back a copy of what is durable', () => {
    const disk = new SimDisk()
    const entries = [e(1), e(2), e(3)]
    disk.persist(ready({ entries }))
    disk.storeSnapshot({ index: 2, term: 1, data: encodeAppliedLog(entries.slice(0, 2)) })
    const loaded = disk.load()
    expect(loaded.entries.map((x) => x.index)).toEqual([3])
    expect(loaded.snapshot?.index).toBe(2)
    expect(loaded.entries[0]).not.toBe(disk.entryAt(3))
  })

  it('is not changed by the core mutating what it handed over', () => {
    const disk = new SimDisk()
    const data = new TextEncoder().encode('e1')
    disk.persist(ready({ entries: [{ type: 'normal', index: 1, term: 1, data }] }))
    data[0] = 0
    const held = disk.entryAt(1)
    expect(held?.type === 'normal' ? held.data[0] : null).toBe('e'.charCodeAt(0))
  })
})

describe('snapshot codec', () => {
  it('round-trips an applied log', () => {
    const log: Entry[] = [e(1), { type: 'noop', index: 2, term: 3 }, e(3, 3, '')]
    expect(decodeAppliedLog(encodeAppliedLog(log))).toEqual(log)
    expect(decodeAppliedLog(encodeAppliedLog([]))).toEqual([])
  })

  it('rejects bytes it did not make', () => {
    expect(decodeAppliedLog(new Uint8Array([1, 2, 3]))).toBeNull()
    const bytes = encodeAppliedLog([e(1)])
    expect(decodeAppliedLog(bytes.slice(0, bytes.length - 1))).toBeNull()
  })
})
