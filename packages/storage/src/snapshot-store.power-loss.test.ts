/**
 * The snapshot store at a power cut (`PowerLossFs`). `save` is temp file, fsync, rename, fsync of
 * the directory: without the file's fsync the renamed file may be empty after a cut (it loads as
 * SNAPSHOT_CORRUPT); without the directory's fsync the rename may be lost (it loads as null).
 * The first test fails either way.
 */
import { describe, expect, it } from 'vitest'
import { createRng } from '@kv/consensus'
import { bytes, text } from './fixtures/tmp.js'
import { SnapshotStore } from './snapshot-store.js'
import { PowerLossFs } from './testing/index.js'

const DIR = '/node-1/snap'
const drop = { unsynced: 'drop' } as const
const snapshot = (index: number) => ({ index, term: 2, data: bytes(`state-at-${index}-${'s'.repeat(500)}`) })

describe('SnapshotStore at a power cut', () => {
  it('a snapshot reported saved survives a power cut', async () => {
    const disk = new PowerLossFs()
    const store = await SnapshotStore.open(DIR, { fs: disk })
    await store.save(snapshot(10))
    const after = disk.powerCut(createRng(1), drop)
    const loaded = await (await SnapshotStore.open(DIR, { fs: after })).load()
    expect(loaded?.index).toBe(10)
    expect(text(loaded?.data)).toBe(text(snapshot(10).data))
  })

  it('a save cut at any point leaves the old snapshot or the new one, never a broken one', async () => {
    let newKept = 0
    let oldKept = 0
    for (let cutAt = 0; cutAt < 12; cutAt++) {
      for (let seed = 1; seed <= 8; seed++) {
        const where = `cut after ${cutAt} operations, seed ${seed}`
        const disk = new PowerLossFs()
        const store = await SnapshotStore.open(DIR, { fs: disk })
        await store.save(snapshot(10))
        disk.cutPowerAfter(cutAt)
        const saved = await store.save(snapshot(20)).then(() => true, () => false)
        const after = disk.powerCut(createRng(seed))
        const reopened = await SnapshotStore.open(DIR, { fs: after })
        const loaded = await reopened.load()
        // Saved: the new one. Not saved (the power went during the save): either.
        if (saved) expect(loaded?.index, where).toBe(20)
        else expect([10, 20], where).toContain(loaded?.index)
        expect(text(loaded?.data), where).toBe(text(snapshot(loaded!.index).data))
        expect((await after.readdir(DIR)).filter((n) => n.startsWith('.tmp-')), where).toEqual([])
        if (loaded?.index === 20) newKept++
        else oldKept++
      }
    }
    expect(newKept).toBeGreaterThan(0)
    expect(oldKept).toBeGreaterThan(0)
  })

  it('snapshots pruned stay pruned after a power cut', async () => {
    const disk = new PowerLossFs()
    const store = await SnapshotStore.open(DIR, { fs: disk })
    for (const index of [1, 2, 3, 4]) await store.save(snapshot(index))
    await store.pruneExcept(3, 2)
    const after = disk.powerCut(createRng(1), drop)
    expect((await (await SnapshotStore.open(DIR, { fs: after })).list()).map((f) => f.index)).toEqual([2, 3])
  })
})
