import { open as openFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { bytes, text, useTempDir } from './fixtures/tmp.js'
import { SnapshotStore } from './snapshot-store.js'

describe('SnapshotStore', () => {
  let dir = ''
  useTempDir((d) => (dir = d))

  it('has nothing to load in a new directory', async () => {
    const store = await SnapshotStore.open(dir)
    expect(await store.load()).toBeNull()
  })

  it('loads the newest snapshot saved, with its data', async () => {
    const store = await SnapshotStore.open(dir)
    await store.save({ index: 10, term: 1, data: bytes('ten') })
    await store.save({ index: 20, term: 2, data: bytes('twenty') })
    const loaded = await (await SnapshotStore.open(dir)).load()
    expect(loaded?.index).toBe(20)
    expect(loaded?.term).toBe(2)
    expect(text(loaded?.data)).toBe('twenty')
    expect(text((await store.loadAt(10, 1))?.data)).toBe('ten')
  })

  it('replaces atomically: a temp file left by a crash mid-save is ignored and removed', async () => {
    const store = await SnapshotStore.open(dir)
    await store.save({ index: 5, term: 1, data: bytes('five') })
    await writeFile(path.join(dir, '.tmp-deadbeef'), 'half a snapshot')
    const reopened = await SnapshotStore.open(dir)
    expect(text((await reopened.load())?.data)).toBe('five')
    expect((await readdir(dir)).filter((n) => n.startsWith('.tmp-'))).toEqual([])
  })

  it('keeps only the named snapshot and the one just older when pruned', async () => {
    const store = await SnapshotStore.open(dir)
    for (const index of [1, 2, 3, 4]) await store.save({ index, term: 1, data: bytes(`s${index}`) })
    await store.pruneExcept(3, 1)
    expect((await store.list()).map((f) => f.index)).toEqual([2, 3])
  })

  it('refuses a snapshot file whose bytes changed with a typed error', async () => {
    const store = await SnapshotStore.open(dir)
    await store.save({ index: 7, term: 3, data: bytes('seven') })
    const [name] = await readdir(dir)
    const handle = await openFile(path.join(dir, name!), 'r+')
    await handle.write(Buffer.from('X'), 0, 1, 38)
    await handle.close()
    await expect(store.load()).rejects.toMatchObject({ code: 'SNAPSHOT_CORRUPT' })
  })
})
