/**
 * The simulator's disk (`SimDisk`) and the real write-ahead log (`@kv/storage`'s `Wal` on
 * `PowerLossFs`, which drops whatever was not fdatasync'ed at a power cut and may tear the last
 * write) must keep the same promises at a crash, or the fuzzer's verdicts say nothing about the
 * node. The same scenario runs on both: writes issued in bursts while earlier ones sync (as
 * pipelined Readys are), a crash at a varying point. The rules, checked for both:
 *
 *  1. every write reported done survives;
 *  2. what survives is a prefix of the writes in the order they were issued;
 *  3. some crashes lose writes that were issued and not yet reported done (a disk that kept
 *     everything would make the simulator kinder than the machine).
 */
import { createRng, type Entry, type HardState, type Ready } from '@kv/consensus'
import { Wal } from '@kv/storage'
import { PowerLossFs } from '@kv/storage/testing'
import { describe, expect, it } from 'vitest'
import { SimDisk } from './disk.js'

const WRITES = 20
const BURST = 4

const entry = (index: number): Entry => ({ type: 'normal', index, term: 1, data: new TextEncoder().encode(`entry-${index}-${'x'.repeat(200)}`) })
const hardState = (index: number): HardState => ({ term: 1, vote: 'n1', commit: index - 1 })

/** What one crash left: the indexes kept, and the writes reported done before it. */
interface Outcome {
  readonly kept: readonly number[]
  readonly acknowledged: ReadonlySet<number>
  /** Writes issued before the crash (1..issued). */
  readonly issued: number
}

/** The real WAL: bursts of writes issued while the earlier ones sync; the power cut after `cutAt` file operations. */
async function realWal(cutAt: number, seed: number): Promise<Outcome> {
  const dir = '/node-1/wal'
  const disk = new PowerLossFs()
  const { wal } = await Wal.open(dir, { fs: disk, maxSegmentBytes: 4096 })
  disk.cutPowerAfter(cutAt)
  const acknowledged = new Set<number>()
  const writes: Array<Promise<void>> = []
  for (let burst = 0; burst < WRITES / BURST; burst++) {
    for (let i = 1; i <= BURST; i++) {
      const index = burst * BURST + i
      writes.push(wal.write({ entries: [entry(index)], hardState: hardState(index) }).then(() => void acknowledged.add(index), () => undefined))
    }
    await Promise.resolve()
  }
  await Promise.all(writes)
  const { wal: reopened, state } = await Wal.open(dir, { fs: disk.powerCut(createRng(seed)), maxSegmentBytes: 4096 })
  await reopened.close()
  return { kept: state.entries.map((e) => e.index), acknowledged, issued: WRITES }
}

/** The simulator's disk, driven as `SimNode` drives it: one sync at a time takes every queued write; the crash after `cutAt` steps. */
function simDisk(cutAt: number, seed: number): Outcome {
  const disk = new SimDisk()
  const rng = createRng(seed)
  const acknowledged = new Set<number>()
  let next = 1
  for (let step = 0; step < cutAt && (next <= WRITES || !disk.idle); step++) {
    // Each step either issues a burst (while a sync may be in flight) or completes the sync in flight.
    if (next <= WRITES && rng.next() < 0.5) {
      for (let i = 0; i < BURST && next <= WRITES; i++, next++) {
        const index = next
        const ready: Ready = { hardState: hardState(index), snapshot: null, truncateFrom: null, entries: [entry(index)], messagesNow: [], messagesAfterPersist: [], committed: [], readStates: [] }
        disk.enqueue(ready, () => void acknowledged.add(index))
      }
      disk.startSync()
    } else {
      for (const done of disk.completeSync()) done()
      disk.startSync()
    }
  }
  disk.crash()
  return { kept: disk.persisted().entries.map((e) => e.index), acknowledged, issued: next - 1 }
}

function checkRules(name: string, outcomes: readonly Outcome[]): void {
  let lostPending = 0
  outcomes.forEach(({ kept, acknowledged, issued }, i) => {
    const where = `${name}, crash ${i}`
    expect(kept, `${where}: a prefix of the writes`).toEqual(Array.from({ length: kept.length }, (_, k) => k + 1))
    for (const index of acknowledged) expect(kept, `${where}: acknowledged ${index} survives`).toContain(index)
    expect(kept.length, `${where}: nothing survives that was not issued`).toBeLessThanOrEqual(issued)
    if (kept.length < issued) lostPending++
  })
  expect(lostPending, `${name}: crashes that lost a write not yet reported done`).toBeGreaterThan(0)
}

describe('the simulator\'s disk keeps the real WAL\'s promises at a crash', () => {
  it('real Wal on PowerLossFs: acknowledged writes survive, a prefix survives, pending writes can be lost', async () => {
    const outcomes: Outcome[] = []
    for (let cutAt = 0; cutAt < 40; cutAt += 3) for (let seed = 1; seed <= 3; seed++) outcomes.push(await realWal(cutAt, seed))
    checkRules('Wal', outcomes)
  })

  it('SimDisk: the same rules, over the same scenario', () => {
    const outcomes: Outcome[] = []
    for (let cutAt = 0; cutAt < 16; cutAt++) for (let seed = 1; seed <= 8; seed++) outcomes.push(simDisk(cutAt, seed))
    checkRules('SimDisk', outcomes)
  })
})
