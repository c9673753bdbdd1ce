/**
 * Targeted power-loss tests of the WAL on `PowerLossFs` (the random sequences are in
 * `power-loss.property.test.ts`). A SIGKILL (`crash.test.ts`) keeps the page cache, so only a
 * power cut tells a WAL that syncs from one that only writes.
 */
import { describe, expect, it } from 'vitest'
import { createRng, type Entry } from '@kv/consensus'
import type { FileHandle, FileSystem } from '../fs/file-system.js'
import { bytes, text } from '../fixtures/tmp.js'
import { PowerLossFs } from '../testing/index.js'
import { Wal } from './wal.js'

const DIR = '/node-1/wal'
const SEGMENT_BYTES = 4096
const isSegment = (file: string) => file.endsWith('.log')
const payload = (index: number) => `entry-${index}-${'x'.repeat(300)}`
const normal = (index: number): Entry => ({ type: 'normal', index, term: 1, data: bytes(payload(index)) })

/** Writes entries 1..count one acknowledged write at a time (they span several segments). */
async function writeAcknowledged(fs: FileSystem, count: number): Promise<Wal> {
  const { wal } = await Wal.open(DIR, { fs, maxSegmentBytes: SEGMENT_BYTES })
  for (let i = 1; i <= count; i++) await wal.write({ entries: [normal(i)], hardState: { term: 1, vote: 'n1', commit: i } })
  return wal
}

/** Indexes of entries 1..count that are missing or damaged in `dir` on `fs`. */
async function lostEntries(fs: FileSystem, count: number): Promise<number[]> {
  const { wal, state } = await Wal.open(DIR, { fs, maxSegmentBytes: SEGMENT_BYTES })
  await wal.close()
  const byIndex = new Map(state.entries.map((e) => [e.index, e]))
  const lost: number[] = []
  for (let i = 1; i <= count; i++) {
    const e = byIndex.get(i)
    if (e?.type !== 'normal' || text(e.data) !== payload(i)) lost.push(i)
  }
  return lost
}

/** A disk that acknowledges fdatasync and fsync without doing them (a volatile write cache that lies). */
function lyingDisk(real: PowerLossFs): FileSystem {
  const lying = (h: FileHandle): FileHandle => ({
    writev: (buffers, position) => h.writev(buffers, position),
    datasync: () => Promise.resolve(),
    sync: () => Promise.resolve(),
    close: () => h.close(),
  })
  return {
    open: async (file, mode) => lying(await real.open(file, mode)),
    readFile: (file) => real.readFile(file),
    readdir: (dir) => real.readdir(dir),
    mkdirp: (dir) => real.mkdirp(dir),
    rename: (from, to) => real.rename(from, to),
    unlink: (file, options) => real.unlink(file, options),
    syncDir: (dir) => real.syncDir(dir),
  }
}

describe('Wal at a power cut', () => {
  // The check the mutation run asked for. `appendAndSync` in wal.ts resolves a write only after
  // `this.file.datasync()`; delete that call (or make it a no-op) and every acknowledged write
  // of this test still sits in the page cache when the power goes, so `lostEntries` is not empty
  // and this test fails. Nothing else in the suite notices: SIGKILL keeps the page cache.
  it('keeps every acknowledged write (a WAL that skips fdatasync loses acknowledged writes at a power cut)', async () => {
    const disk = new PowerLossFs()
    const wal = await writeAcknowledged(disk, 30)
    expect(wal.stats().segments).toBeGreaterThan(2) // the rolls (rename + directory sync) are covered too
    const after = disk.powerCut(createRng(1), { unsynced: 'drop' })
    expect(await lostEntries(after, 30)).toEqual([])
  })

  it('the same check catches a disk whose fdatasync does nothing: acknowledged writes are lost', async () => {
    // What the test above would see with the fdatasync removed from the WAL, shown here by a
    // file layer that acknowledges syncs it never ran.
    const disk = new PowerLossFs()
    await writeAcknowledged(lyingDisk(disk), 30)
    const after = disk.powerCut(createRng(1), { unsynced: 'drop' })
    expect((await lostEntries(after, 30)).length).toBeGreaterThan(0)
  })

  it('never returns a write torn by the cut: it is whole after reopen, or gone and cut off', async () => {
    let torn = 0
    for (let seed = 1; seed <= 60; seed++) {
      const disk = new PowerLossFs()
      const wal = await writeAcknowledged(disk, 5)
      disk.cutPowerAfter(1) // the sixth write reaches the page cache; its fdatasync finds the power off
      await expect(wal.write({ entries: [normal(6)], hardState: { term: 1, vote: 'n1', commit: 6 } })).rejects.toMatchObject({ code: 'WAL_FAILED' })
      const after = disk.powerCut(createRng(seed))
      const { wal: reopened, state, recovery } = await Wal.open(DIR, { fs: after, maxSegmentBytes: SEGMENT_BYTES })
      if (recovery !== null) torn++
      const indexes = state.entries.map((e) => e.index)
      expect(indexes.slice(0, 5), `seed ${seed}`).toEqual([1, 2, 3, 4, 5])
      expect(await lostEntries(after, indexes.length), `seed ${seed}`).toEqual([])
      await reopened.close()
    }
    expect(torn).toBeGreaterThan(5) // the cuts did tear the write, and recovery saw it
  })
})

describe('Wal with writes issued while a sync is in flight (pipelined Readys)', () => {
  // The replica hands the WAL the next Ready while the previous one's fdatasync runs. Wherever
  // the power goes, every acknowledged write survives, and what survives is a prefix of the
  // writes in the order they were issued: never a later Ready's write without an earlier one's.
  it('keeps every acknowledged write and a prefix of the issued ones, wherever the cut lands', async () => {
    let acknowledgedAtCut = 0
    let cutWithWritesPending = 0
    for (let cutAt = 0; cutAt < 40; cutAt += 3) {
      for (let seed = 1; seed <= 4; seed++) {
        const where = `cut after ${cutAt} operations, seed ${seed}`
        const disk = new PowerLossFs()
        const { wal } = await Wal.open(DIR, { fs: disk, maxSegmentBytes: SEGMENT_BYTES })
        disk.cutPowerAfter(cutAt)
        const acknowledged = new Set<number>()
        // Twenty writes issued in bursts of four, each burst while the previous ones sync.
        const writes: Array<Promise<void>> = []
        for (let burst = 0; burst < 5; burst++) {
          for (let i = 1; i <= 4; i++) {
            const index = burst * 4 + i
            writes.push(wal.write({ entries: [normal(index)], hardState: { term: 1, vote: 'n1', commit: index - 1 } })
              .then(() => void acknowledged.add(index), () => undefined))
          }
          await Promise.resolve()
        }
        await Promise.all(writes)
        if (acknowledged.size < 20) cutWithWritesPending++
        acknowledgedAtCut += acknowledged.size
        const after = disk.powerCut(createRng(seed))
        const { wal: reopened, state } = await Wal.open(DIR, { fs: after, maxSegmentBytes: SEGMENT_BYTES })
        const kept = state.entries.map((e) => e.index)
        expect(kept, where).toEqual(Array.from({ length: kept.length }, (_, i) => i + 1))
        for (const index of acknowledged) expect(kept, `${where}: acknowledged ${index}`).toContain(index)
        await reopened.close()
      }
    }
    expect(cutWithWritesPending).toBeGreaterThan(10) // most cuts fall among the writes
    expect(acknowledgedAtCut).toBeGreaterThan(0) // and some writes were acknowledged before them
  })
})

describe('Wal releasing segments at a power cut', () => {
  // `releaseUpTo` syncs the directory after each unlink. Unsynced unlinks may reach the disk in any
  // order (PowerLossFs keeps any subset of them), so without those syncs a cut can delete a newer
  // segment and keep an older one: a gap in the sequence, refused at open as WAL_CORRUPT.
  it('never leaves a gap in the segments, wherever the cut lands in a release', async () => {
    let mostReleased = 0
    for (let cutAt = 0; cutAt < 8; cutAt++) {
      for (let seed = 1; seed <= 10; seed++) {
        const where = `cut after ${cutAt} operations, seed ${seed}`
        const disk = new PowerLossFs()
        const wal = await writeAcknowledged(disk, 30)
        await wal.write({ snapshotMeta: { index: 28, term: 1 } })
        disk.cutPowerAfter(cutAt)
        mostReleased = Math.max(mostReleased, await wal.releaseUpTo(28).catch(() => 0))
        const after = disk.powerCut(createRng(seed))
        const { wal: reopened, state } = await Wal.open(DIR, { fs: after, maxSegmentBytes: SEGMENT_BYTES })
        expect(state.snapshotMeta, where).toEqual({ index: 28, term: 1 })
        expect(state.entries.map((e) => e.index), where).toEqual([29, 30])
        await reopened.close()
      }
    }
    expect(mostReleased).toBeGreaterThanOrEqual(2) // so some cuts fall between two unlinks
  })
})

describe('Wal stats().syncs', () => {
  it('equals the fdatasyncs the file layer performed on segment files', async () => {
    const disk = new PowerLossFs()
    const wal = await writeAcknowledged(disk, 20) // one sync per write: each waits for the last
    expect(wal.stats().syncs).toBe(20)
    await Promise.all(Array.from({ length: 16 }, (_, i) => wal.write({ entries: [normal(21 + i)] })))
    const { syncs, writes } = wal.stats()
    expect(writes).toBe(36)
    expect(syncs).toBeLessThan(36) // group commit
    expect(syncs).toBe(disk.syncCount('datasync', isSegment))
    await wal.close()
  })

  it('counts no sync that failed, and the one that makes a cut tail durable at open', async () => {
    // The first seed whose cut tears the failed write (most do; see the test above).
    for (let seed = 1; seed <= 20; seed++) {
      const disk = new PowerLossFs()
      const wal = await writeAcknowledged(disk, 3)
      disk.cutPowerAfter(1) // the write lands, its fdatasync fails
      await expect(wal.write({ entries: [normal(4)] })).rejects.toMatchObject({ code: 'WAL_FAILED' })
      expect(wal.stats().syncs).toBe(3)
      expect(disk.syncCount('datasync', isSegment)).toBe(3)

      const after = disk.powerCut(createRng(seed))
      const { wal: reopened, recovery } = await Wal.open(DIR, { fs: after, maxSegmentBytes: SEGMENT_BYTES })
      const syncs = reopened.stats().syncs
      await reopened.close()
      if (recovery === null) {
        expect(syncs).toBe(0)
        continue
      }
      // Recovery zeroed the torn bytes and synced them: one sync, done by the file layer.
      expect(syncs).toBe(1)
      expect(after.syncCount('datasync', isSegment)).toBe(1)
      return
    }
    expect.unreachable('no seed tore the write')
  })
})
