import { open as openFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { crc32 } from 'node:zlib'
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

  it('keeps the membership fields and the members\' contexts with the data', async () => {
    const store = await SnapshotStore.open(dir)
    const membership = { voters: ['a', 'b', 'd'], learners: ['e'], roster: ['a', 'b', 'c', 'd', 'e'] }
    const previousMembership = { voters: ['a', 'b', 'd'], learners: [], roster: ['a', 'b', 'c', 'd'] }
    const memberContexts = { d: bytes('127.0.0.4:7004'), e: bytes('10.0.0.5:7000') }
    await store.save({ index: 30, term: 3, data: bytes('thirty'), membership, membershipIndex: 28, previousMembership, memberContexts })
    const loaded = await (await SnapshotStore.open(dir)).load()
    expect(text(loaded?.data)).toBe('thirty')
    expect(loaded?.membership).toEqual(membership)
    expect(loaded?.membershipIndex).toBe(28)
    expect(loaded?.previousMembership).toEqual(previousMembership)
    expect(Object.keys(loaded?.memberContexts ?? {})).toEqual(['d', 'e'])
    expect(text(loaded?.memberContexts?.['e'])).toBe('10.0.0.5:7000')
  })

  it('reads a file of the first format (no membership fields)', async () => {
    const data = bytes('old')
    const h = Buffer.alloc(36)
    Buffer.from('KVSNAP01', 'latin1').copy(h, 0)
    h.writeBigUInt64LE(7n, 8)
    h.writeBigUInt64LE(2n, 16)
    h.writeBigUInt64LE(BigInt(data.length), 24)
    h.writeUInt32LE(crc32(data, crc32(h.subarray(0, 32))), 32)
    await writeFile(path.join(dir, `${(7).toString(16).padStart(16, '0')}-${(2).toString(16).padStart(16, '0')}.snap`), Buffer.concat([h, data]))
    const loaded = await (await SnapshotStore.open(dir)).load()
    expect(loaded?.index).toBe(7)
    expect(text(loaded?.data)).toBe('old')
    expect(loaded?.membership).toBeUndefined()
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
