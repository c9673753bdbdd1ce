import { describe, expect, it } from 'vitest'
import { createRng } from '@kv/consensus'
import { PowerLossFs } from './power-loss-fs.js'

const buf = (s: string) => Buffer.from(s)
const drop = { unsynced: 'drop' } as const

/** A machine with `/d/f` holding `content`, file and directory synced. */
async function withFile(content: string): Promise<PowerLossFs> {
  const fs = new PowerLossFs()
  await fs.mkdirp('/d')
  const h = await fs.open('/d/f', 'w')
  await h.writev([buf(content)], 0)
  await h.sync()
  await h.close()
  await fs.syncDir('/d')
  await fs.syncDir('/')
  return fs
}

async function contentAfterCut(fs: PowerLossFs, seed: number, file = '/d/f'): Promise<string | null> {
  const after = fs.powerCut(createRng(seed))
  return after.readFile(file).then((b) => b.toString('latin1'), () => null)
}

describe('PowerLossFs', () => {
  it('keeps a synced write and loses an unsynced one', async () => {
    const fs = await withFile('durable')
    const h = await fs.open('/d/f', 'r+')
    await h.writev([buf('CACHED!')], 0)
    expect((await fs.readFile('/d/f')).toString()).toBe('CACHED!') // reads see the page cache
    const after = fs.powerCut(createRng(1), drop)
    expect((await after.readFile('/d/f')).toString()).toBe('durable')
  })

  it('keeps what fdatasync made durable', async () => {
    const fs = await withFile('old')
    const h = await fs.open('/d/f', 'r+')
    await h.writev([buf('new'), buf('er')], 0)
    await h.datasync()
    expect((await fs.powerCut(createRng(1), drop).readFile('/d/f')).toString()).toBe('newer')
  })

  it('loses a synced file whose directory entry was never synced', async () => {
    const fs = await withFile('x')
    const h = await fs.open('/d/g', 'w')
    await h.writev([buf('data')], 0)
    await h.sync()
    const after = fs.powerCut(createRng(1), drop)
    await expect(after.readFile('/d/g')).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('makes a rename and an unlink durable only with a sync of their directory', async () => {
    const fs = await withFile('x')
    await fs.rename('/d/f', '/d/renamed')
    const unsynced = fs.powerCut(createRng(1), drop)
    expect(await unsynced.readdir('/d')).toEqual(['f'])

    await unsynced.rename('/d/f', '/d/renamed')
    await unsynced.syncDir('/d')
    const synced = unsynced.powerCut(createRng(1), drop)
    expect(await synced.readdir('/d')).toEqual(['renamed'])

    await synced.unlink('/d/renamed')
    expect(await synced.powerCut(createRng(1), drop).readdir('/d')).toEqual(['renamed'])
  })

  it('loses a directory created without a sync of its parent', async () => {
    const fs = new PowerLossFs()
    expect(await fs.mkdirp('/a/b/c')).toBe('/a')
    await fs.syncDir('/a/b')
    const after = fs.powerCut(createRng(1), drop)
    await expect(after.readdir('/a')).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('tears an unsynced write: the cut keeps nothing, a prefix, a prefix and garbage, or all of it', async () => {
    const write = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
    const seen = { dropped: 0, prefix: 0, garbage: 0, whole: 0 }
    for (let seed = 1; seed <= 300; seed++) {
      const fs = await withFile('.'.repeat(40))
      const h = await fs.open('/d/f', 'r+')
      await h.writev([buf(write)], 10)
      const after = (await contentAfterCut(fs, seed))!
      // Only the bytes the write covered may differ from the durable image.
      expect(after.slice(0, 10) + after.slice(36), `seed ${seed}`).toBe('.'.repeat(14))
      const part = after.slice(10, 36)
      let prefix = 0
      while (prefix < write.length && part[prefix] === write[prefix]) prefix++
      if (prefix === write.length) seen.whole++
      else if (part.slice(prefix) === '.'.repeat(write.length - prefix)) seen[prefix === 0 ? 'dropped' : 'prefix']++
      else seen.garbage++
    }
    for (const [outcome, count] of Object.entries(seen)) expect(count, outcome).toBeGreaterThan(10)
  })

  it('is deterministic for a seed', async () => {
    const image = async (seed: number) => {
      const fs = await withFile('-'.repeat(64))
      const h = await fs.open('/d/f', 'r+')
      for (let i = 0; i < 8; i++) await h.writev([Buffer.alloc(8, 65 + i)], i * 8)
      return contentAfterCut(fs, seed)
    }
    for (let seed = 1; seed <= 20; seed++) expect(await image(seed)).toBe(await image(seed))
    const distinct = new Set(await Promise.all(Array.from({ length: 20 }, (_, i) => image(i + 1))))
    expect(distinct.size).toBeGreaterThan(3)
  })

  it('turns the power off after the given number of operations, for good', async () => {
    const fs = await withFile('x')
    const before = fs.operations
    fs.cutPowerAfter(2)
    const h = await fs.open('/d/f', 'r+')
    await h.writev([buf('y')], 0)
    await expect(h.datasync()).rejects.toMatchObject({ code: 'POWER_LOST' })
    expect(fs.powerIsOn).toBe(false)
    await expect(fs.readdir('/d')).rejects.toMatchObject({ code: 'POWER_LOST' })
    expect(fs.operations - before).toBe(2)
    fs.cutPowerAfter(Number.POSITIVE_INFINITY) // a later call cannot switch it back on
    await expect(fs.readdir('/d')).rejects.toMatchObject({ code: 'POWER_LOST' })
  })

  it('refuses every call on a machine that was cut, and its handles', async () => {
    const fs = await withFile('x')
    const h = await fs.open('/d/f', 'r+')
    fs.powerCut(createRng(1))
    await expect(h.writev([buf('late')], 0)).rejects.toMatchObject({ code: 'POWER_LOST' })
    await expect(fs.open('/d/f', 'r+')).rejects.toMatchObject({ code: 'POWER_LOST' })
  })

  it('writes at most maxWriteBytes per writev (a short write)', async () => {
    const fs = new PowerLossFs({ maxWriteBytes: 3 })
    const h = await fs.open('/f', 'w')
    expect((await h.writev([buf('ab'), buf('cdef')], 0)).bytesWritten).toBe(3)
    expect((await fs.readFile('/f')).toString()).toBe('abc')
  })

  it('logs each sync with the path its file was opened by', async () => {
    const fs = await withFile('x')
    expect(fs.syncLog).toEqual([
      { call: 'fsync', path: '/d/f' },
      { call: 'syncDir', path: '/d' },
      { call: 'syncDir', path: '/' },
    ])
    expect(fs.syncCount('syncDir')).toBe(2)
  })

  it('fails as the real disk does, with Node error codes', async () => {
    const fs = await withFile('x')
    await expect(fs.open('/d/missing', 'r+')).rejects.toMatchObject({ code: 'ENOENT', syscall: 'open' })
    await expect(fs.open('/nodir/f', 'w')).rejects.toMatchObject({ code: 'ENOENT' })
    await expect(fs.readFile('/d')).rejects.toMatchObject({ code: 'EISDIR' })
    await expect(fs.readdir('/d/f')).rejects.toMatchObject({ code: 'ENOTDIR' })
    await expect(fs.unlink('/d/missing')).rejects.toMatchObject({ code: 'ENOENT' })
    await fs.unlink('/d/missing', { missingOk: true })
    await fs.unlink('/nodir/missing', { missingOk: true })
    await fs.mkdirp('/e')
    await expect(fs.rename('/d/f', '/e/f')).rejects.toMatchObject({ code: 'EXDEV' })
    const h = await fs.open('/d/f', 'r+')
    await h.close()
    await expect(h.datasync()).rejects.toMatchObject({ code: 'EBADF' })
  })
})
