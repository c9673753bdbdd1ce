import { cp, open as openFile, readdir, rm, truncate } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Entry } from '@kv/consensus'
import { WalCorruptError } from '../errors.js'
import { bytes, makeTempDir } from '../fixtures/tmp.js'
import { Wal } from './wal.js'

const SEGMENT_BYTES = 4096
const normal = (index: number, data = `value-${index}`): Entry => ({ type: 'normal', index, term: 1, data: bytes(data) })
const segmentsIn = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.log')).sort()

async function flipByte(file: string, offset: number): Promise<void> {
  const handle = await openFile(file, 'r+')
  const one = Buffer.alloc(1)
  await handle.read(one, 0, 1, offset)
  one[0] = one[0]! ^ 0xff
  await handle.write(one, 0, 1, offset)
  await handle.close()
}

describe('Wal recovery from a torn or corrupt tail', () => {
  let root: string
  let cleanup: () => Promise<void>
  /** A one-segment WAL: records for entries 1..3 in [0, lastStart), entry 4's record in [lastStart, lastEnd). */
  let pristine: string
  let lastStart = 0
  let lastEnd = 0

  beforeAll(async () => {
    ;({ dir: root, cleanup } = await makeTempDir())
    pristine = path.join(root, 'pristine')
    const { wal } = await Wal.open(pristine, { maxSegmentBytes: SEGMENT_BYTES })
    await wal.write({ entries: [normal(1), normal(2)], hardState: { term: 1, vote: 'a', commit: 1 } })
    await wal.write({ entries: [normal(3)] })
    lastStart = wal.stats().bytesWritten
    await wal.write({ entries: [normal(4, 'the-last-record')] })
    lastEnd = wal.stats().bytesWritten
    await wal.close()
  })
  afterAll(async () => {
    await cleanup()
  })

  async function copyOfPristine(name: string): Promise<{ dir: string; segment: string }> {
    const dir = path.join(root, name)
    await cp(pristine, dir, { recursive: true })
    const [segment] = await segmentsIn(dir)
    return { dir, segment: path.join(dir, segment!) }
  }

  /** Reopens `dir`, checks it holds exactly entries 1..3, appends entry 4 anew and checks that survives a reopen. */
  async function expectRecoveredAndAppendable(dir: string): Promise<number> {
    const { wal, state, recovery } = await Wal.open(dir, { maxSegmentBytes: SEGMENT_BYTES })
    expect(recovery).not.toBeNull()
    expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3])
    expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 1 })
    await wal.write({ entries: [normal(4, 'rewritten')] })
    await wal.close()
    const again = await Wal.open(dir, { maxSegmentBytes: SEGMENT_BYTES })
    expect(again.recovery).toBeNull()
    expect(again.state.entries.map((e) => e.index)).toEqual([1, 2, 3, 4])
    await again.wal.close()
    return recovery!.truncatedBytes
  }

  it('the last record spans several bytes (sanity of the fixture)', () => {
    expect(lastEnd - lastStart).toBeGreaterThan(20)
  })

  it('recovers every earlier record when the segment is cut at any byte inside the last record', async () => {
    for (let cut = lastStart + 1; cut < lastEnd; cut++) {
      const { dir, segment } = await copyOfPristine(`cut-${cut}`)
      await truncate(segment, cut)
      const truncatedBytes = await expectRecoveredAndAppendable(dir)
      expect(truncatedBytes).toBeGreaterThan(0)
      expect(truncatedBytes).toBeLessThanOrEqual(cut - lastStart)
    }
  })

  it('recovers every earlier record when any byte of the last record is flipped', async () => {
    for (let at = lastStart; at < lastEnd; at++) {
      const { dir, segment } = await copyOfPristine(`flip-${at}`)
      await flipByte(segment, at)
      const { wal, state, recovery } = await Wal.open(dir, { maxSegmentBytes: SEGMENT_BYTES })
      expect(recovery?.reason).toBeTypeOf('string')
      expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3])
      await wal.close()
    }
  })

  it('reports where and why the tail was cut', async () => {
    const { dir, segment } = await copyOfPristine('report')
    await truncate(segment, lastEnd - 1)
    const { wal, recovery } = await Wal.open(dir, { maxSegmentBytes: SEGMENT_BYTES })
    expect(recovery).toMatchObject({ segment: path.basename(segment), reason: expect.stringMatching(/partial/) })
    expect(recovery!.offset).toBeGreaterThanOrEqual(lastStart)
    await wal.close()
  })

  it('refuses corruption in a segment that is not the last with WalCorruptError', async () => {
    const dir = path.join(root, 'multi')
    const { wal } = await Wal.open(dir, { maxSegmentBytes: SEGMENT_BYTES })
    for (let i = 1; i <= 30; i++) await wal.write({ entries: [normal(i, 'y'.repeat(400))] })
    await wal.close()
    const segments = await segmentsIn(dir)
    expect(segments.length).toBeGreaterThan(2)
    await flipByte(path.join(dir, segments[0]!), 30)
    await expect(Wal.open(dir, { maxSegmentBytes: SEGMENT_BYTES })).rejects.toBeInstanceOf(WalCorruptError)
    await expect(Wal.open(dir, { maxSegmentBytes: SEGMENT_BYTES })).rejects.toMatchObject({ code: 'WAL_CORRUPT', segment: segments[0] })
  })

  it('refuses a missing segment in the middle with WalCorruptError', async () => {
    const dir = path.join(root, 'gap')
    const { wal } = await Wal.open(dir, { maxSegmentBytes: SEGMENT_BYTES })
    for (let i = 1; i <= 30; i++) await wal.write({ entries: [normal(i, 'z'.repeat(400))] })
    await wal.close()
    const segments = await segmentsIn(dir)
    await rm(path.join(dir, segments[1]!))
    await expect(Wal.open(dir, { maxSegmentBytes: SEGMENT_BYTES })).rejects.toMatchObject({ code: 'WAL_CORRUPT' })
  })
})
