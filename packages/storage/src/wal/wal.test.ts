import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Entry } from '@kv/consensus'
import { StorageError } from '../errors.js'
import { bytes, text, useTempDir } from '../fixtures/tmp.js'
import { Wal } from './wal.js'

const normal = (index: number, term: number, data = `v${index}`): Entry => ({ type: 'normal', index, term, data: bytes(data) })
const summary = (entries: readonly Entry[]) => entries.map((e) => `${e.index}/${e.term}/${e.type === 'normal' ? text(e.data) : 'noop'}`)

describe('Wal', () => {
  let dir = ''
  useTempDir((d) => (dir = d))

  it('starts empty in a new directory', async () => {
    const { wal, state, recovery } = await Wal.open(path.join(dir, 'wal'))
    expect(state).toEqual({ hardState: null, snapshotMeta: null, entries: [] })
    expect(recovery).toBeNull()
    await wal.close()
  })

  it('replays entries, truncation, hard state and the snapshot marker after reopen', async () => {
    const { wal } = await Wal.open(dir)
    await wal.write({ entries: [normal(1, 1), normal(2, 1), normal(3, 1), normal(4, 1)], hardState: { term: 1, vote: 'a', commit: 2 } })
    await wal.write({ truncateFrom: 3, entries: [normal(3, 2, 'new3')], hardState: { term: 2, vote: 'b', commit: 3 } })
    await wal.write({ snapshotMeta: { index: 1, term: 1 } })
    await wal.write({ entries: [{ type: 'noop', index: 4, term: 2 }, normal(5, 2, '')] })
    await wal.close()

    const { wal: again, state } = await Wal.open(dir)
    expect(state.hardState).toEqual({ term: 2, vote: 'b', commit: 3 })
    expect(state.snapshotMeta).toEqual({ index: 1, term: 1 })
    expect(summary(state.entries)).toEqual(['2/1/v2', '3/2/new3', '4/2/noop', '5/2/'])
    await again.close()
  })

  it('keeps the holes of a Paxos-style log', async () => {
    const { wal } = await Wal.open(dir)
    await wal.write({ entries: [normal(1, 1), normal(4, 1), normal(9, 1)] })
    await wal.write({ entries: [normal(2, 1), normal(7, 1)] })
    await wal.close()
    const { wal: again, state } = await Wal.open(dir)
    expect(state.entries.map((e) => e.index)).toEqual([1, 2, 4, 7, 9])
    await again.close()
  })

  it('an entry rewritten at its index replaces the old one', async () => {
    const { wal } = await Wal.open(dir)
    await wal.write({ entries: [normal(1, 1, 'old'), normal(2, 1)] })
    await wal.write({ entries: [normal(1, 3, 'new')] })
    await wal.close()
    const { wal: again, state } = await Wal.open(dir)
    expect(summary(state.entries)).toEqual(['1/3/new', '2/1/v2'])
    await again.close()
  })

  it('coalesces concurrent writes into fewer fdatasyncs (group commit)', async () => {
    const { wal } = await Wal.open(dir)
    const before = wal.stats().syncs
    await Promise.all(Array.from({ length: 64 }, (_, i) => wal.write({ entries: [normal(i + 1, 1)] })))
    const { syncs, writes } = wal.stats()
    expect(writes).toBe(64)
    // The first write syncs alone; the 63 issued during it share the next sync.
    expect(syncs - before).toBeLessThan(64)
    expect(syncs - before).toBeLessThanOrEqual(2)
    await wal.close()
    const { wal: again, state } = await Wal.open(dir)
    expect(state.entries).toHaveLength(64)
    await again.close()
  })

  it('rolls segments and keeps hard state and marker when old segments are released', async () => {
    const { wal } = await Wal.open(dir, { maxSegmentBytes: 4096 })
    await wal.write({ hardState: { term: 7, vote: 'n1', commit: 0 } })
    const big = 'x'.repeat(500)
    for (let i = 1; i <= 40; i++) await wal.write({ entries: [normal(i, 7, big)], hardState: { term: 7, vote: 'n1', commit: i - 1 } })
    await wal.write({ snapshotMeta: { index: 30, term: 7 } })
    for (let i = 41; i <= 50; i++) await wal.write({ entries: [normal(i, 7, big)] })
    const segmentsBefore = wal.stats().segments
    expect(segmentsBefore).toBeGreaterThan(5)

    const removed = await wal.releaseUpTo(30)
    expect(removed).toBeGreaterThan(0)
    expect(wal.stats().segments).toBe(segmentsBefore - removed)
    const onDisk = (await readdir(dir)).filter((n) => n.endsWith('.log')).sort()
    expect(onDisk).toEqual(wal.segmentNames())
    await wal.close()

    const { wal: again, state } = await Wal.open(dir, { maxSegmentBytes: 4096 })
    expect(state.hardState).toEqual({ term: 7, vote: 'n1', commit: 39 })
    expect(state.snapshotMeta).toEqual({ index: 30, term: 7 })
    expect(state.entries.map((e) => e.index)).toEqual(Array.from({ length: 20 }, (_, i) => 31 + i))
    await again.close()
  })

  it('releases nothing that a snapshot marker does not cover', async () => {
    const { wal } = await Wal.open(dir, { maxSegmentBytes: 4096 })
    await wal.write({ entries: [normal(1, 1)] })
    await expect(wal.releaseUpTo(1)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' })
    await wal.close()
  })

  it('refuses malformed batches with a typed error', async () => {
    const { wal } = await Wal.open(dir)
    await expect(wal.write({ entries: [normal(2, 1), normal(1, 1)] })).rejects.toBeInstanceOf(StorageError)
    await expect(wal.write({ truncateFrom: 0 })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' })
    await expect(wal.write({ entries: [normal(0, 1)] })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' })
    // The WAL is still usable after a refused batch.
    await wal.write({ entries: [normal(1, 1)] })
    await wal.close()
    await expect(wal.write({ entries: [normal(2, 1)] })).rejects.toMatchObject({ code: 'WAL_CLOSED' })
  })
})
