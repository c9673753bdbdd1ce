/**
 * Power-loss property test of the WAL. Per seed: random batches (entries, suffix replacements,
 * hard state, snapshot markers), waits for syncs, segment releases and yields, with the power cut
 * at a random file operation (during a write, between a write and its fdatasync, during a roll
 * or a release, during recovery itself) or at the end with writes in flight; the machine restarts
 * on what `PowerLossFs` says survived (unsynced changes dropped, or kept in part and torn).
 * After each restart:
 * - the recovered state is the state after some prefix of the records issued since the last
 *   recovery, and that prefix holds every acknowledged batch: nothing acknowledged is lost, no
 *   torn or garbage record is taken for valid, nothing is out of order;
 * - the log has no gap;
 * - opened again, the WAL finds nothing left to recover (the torn tail was cut durably).
 *
 * Replay one seed: POWERLOSS_SEED=<seed> pnpm exec vitest run packages/storage/src/wal/power-loss.property.test.ts
 */
import { describe, expect, it } from 'vitest'
import { createRng, type Rng } from '@kv/consensus'
import type { StorageError } from '../errors.js'
import { BatchMaker, EMPTY_STATE, allowedStates, describeState, recordsOf, stateKey } from '../fixtures/wal-model.js'
import { PowerLossFs } from '../testing/index.js'
import type { WalBatch } from './batch.js'
import type { WalState } from './log-image.js'
import type { WalRecord } from './record.js'
import { Wal, type WalOpenResult } from './wal.js'

const SEED_VARIABLE = 'POWERLOSS_SEED'
const SEEDS = 120
const EPOCHS = 5
const STEPS_PER_EPOCH = 30
/** A cut is drawn from [0, this) file operations after the WAL opened: about half land mid-epoch. */
const MAX_OPS_BEFORE_CUT = 80
const DIR = '/node-1/wal'
const SEGMENT_BYTES = 4096

interface Issued {
  readonly batch: WalBatch
  readonly records: readonly WalRecord[]
  acknowledged: boolean
}

function replayHint(seed: number): string {
  return `replay: ${SEED_VARIABLE}=${seed} pnpm exec vitest run packages/storage/src/wal/power-loss.property.test.ts`
}

/** A WAL call that failed is fine only as the power cut's doing. */
function isPowerLoss(e: unknown): boolean {
  const err = e as StorageError
  return err.code === 'POWER_LOST' || (err.code === 'WAL_FAILED' && (err.cause as StorageError | undefined)?.code === 'POWER_LOST')
}

async function microtasks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve()
}

function expectNoGap(state: WalState, where: string): void {
  const indexes = state.entries.map((e) => e.index)
  const from = (state.snapshotMeta?.index ?? 0) + 1
  const expected = Array.from({ length: indexes.length }, (_, i) => from + i)
  expect(indexes, `${where}: the log has a gap`).toEqual(expected)
}

/** Checks a recovered state against the oracle (see `allowedStates`). */
function expectAllowed(state: WalState, base: WalState, issued: readonly Issued[], where: string): void {
  const acknowledged = issued.findIndex((i) => !i.acknowledged)
  const ackedBatches = acknowledged < 0 ? issued.length : acknowledged
  expect(issued.slice(ackedBatches).some((i) => i.acknowledged), `${where}: acknowledged out of order`).toBe(false)
  const records = issued.flatMap((i) => i.records)
  const ackedRecords = issued.slice(0, ackedBatches).reduce((n, i) => n + i.records.length, 0)
  const allowed = allowedStates(base, records, ackedRecords)
  const ok = allowed.has(stateKey(state))
  expect(ok, `${where}: recovered ${describeState(state)}, not the state after ${ackedRecords} to ${records.length} ` +
    `of the ${records.length} records issued since ${describeState(base)} (${ackedBatches} of ${issued.length} batches acknowledged)`).toBe(true)
  expectNoGap(state, where)
}

class Run {
  private disk: PowerLossFs
  private readonly maker: BatchMaker
  private base: WalState = EMPTY_STATE
  /** Batches issued since the last verified recovery, in order. */
  private issued: Issued[] = []
  cutsDuringOpen = 0
  cutsMidEpoch = 0
  tornTailsCut = 0

  constructor(private readonly seed: number, private readonly rng: Rng) {
    this.disk = new PowerLossFs(rng.chance(0.3) ? { maxWriteBytes: 1 + rng.int(700) } : {})
    this.maker = new BatchMaker(rng.fork())
  }

  async run(): Promise<void> {
    for (let epoch = 0; epoch <= EPOCHS; epoch++) {
      const where = `seed ${this.seed}, epoch ${epoch}`
      const wal = await this.open(where, epoch < EPOCHS)
      if (wal === null || epoch === EPOCHS) {
        await wal?.close()
        continue
      }
      await this.epoch(wal, where)
    }
  }

  /** Opens and checks the WAL; null when the power went off during the open (then cut and restart). */
  private async open(where: string, mayCut: boolean): Promise<Wal | null> {
    const options = { fs: this.disk, maxSegmentBytes: SEGMENT_BYTES }
    if (mayCut && this.rng.chance(0.2)) this.disk.cutPowerAfter(this.rng.int(12))
    let opened: WalOpenResult
    try {
      opened = await Wal.open(DIR, options)
    } catch (e) {
      expect(isPowerLoss(e), `${where}: open failed with the power on: ${String(e)}`).toBe(true)
      this.cutsDuringOpen++
      this.disk = this.disk.powerCut(this.rng)
      return null
    }
    expectAllowed(opened.state, this.base, this.issued, where)
    if (opened.recovery !== null) this.tornTailsCut++
    this.base = opened.state
    this.issued = []
    this.maker.restartFrom(this.base)
    if (!this.disk.powerIsOn) {
      // The cut came just after the open, in the background work it started (the next segment).
      this.cutsDuringOpen++
      this.disk = this.disk.powerCut(this.rng)
      return null
    }
    this.disk.cutPowerAfter(Number.POSITIVE_INFINITY)
    if (opened.recovery === null && !this.rng.chance(0.3)) return opened.wal
    // What recovery cut off stays cut: a second open finds the same state and nothing to do.
    await opened.wal.close()
    const again = await Wal.open(DIR, options)
    expect(again.recovery, `${where}: a second open recovered again`).toBeNull()
    expect(stateKey(again.state), `${where}: a second open found another state`).toBe(stateKey(this.base))
    return again.wal
  }

  private async epoch(wal: Wal, where: string): Promise<void> {
    const disk = this.disk
    const rng = this.rng
    disk.cutPowerAfter(rng.int(MAX_OPS_BEFORE_CUT))
    const inFlight: Array<Promise<void>> = []
    const problems: string[] = []
    const track = (p: Promise<unknown>, onDone: () => void) =>
      inFlight.push(p.then(onDone, (e: unknown) => {
        if (disk.powerIsOn || !isPowerLoss(e)) problems.push(`${String(e)} (power ${disk.powerIsOn ? 'on' : 'off'})`)
      }))
    let marker = this.base.snapshotMeta
    for (let step = 0; step < STEPS_PER_EPOCH && disk.powerIsOn; step++) {
      const r = rng.next()
      if (r < 0.6) {
        const batch = this.maker.next()
        const item: Issued = { batch, records: recordsOf(batch), acknowledged: false }
        this.issued.push(item)
        if (batch.snapshotMeta != null) marker = batch.snapshotMeta
        track(wal.write(batch), () => (item.acknowledged = true))
      } else if (r < 0.8) {
        await Promise.all(inFlight) // every write issued so far is synced (or the power went)
      } else if (r < 0.88) {
        await Promise.all(inFlight)
        if (marker !== null && disk.powerIsOn) track(wal.releaseUpTo(marker.index), () => undefined)
      } else {
        await microtasks(rng.int(25)) // let the WAL get part of the way through its work
      }
    }
    if (!disk.powerIsOn) this.cutsMidEpoch++
    // The cut, now if it has not come: writes may still be in flight; each resolves only if durable.
    this.disk = disk.powerCut(rng)
    await Promise.all(inFlight)
    expect(problems, `${where}: calls failed for another reason than the power cut`).toEqual([])
  }
}

function seedsToRun(): number[] {
  const text = process.env[SEED_VARIABLE]
  if (text !== undefined && text !== '') return [Number(text)]
  return Array.from({ length: SEEDS }, (_, i) => i + 1)
}

describe('Wal under power loss (PowerLossFs)', () => {
  it('recovers every acknowledged write, and only a prefix-consistent image, across random power cuts', async () => {
    let cutsDuringOpen = 0
    let cutsMidEpoch = 0
    let tornTailsCut = 0
    for (const seed of seedsToRun()) {
      const run = new Run(seed, createRng(seed))
      try {
        await run.run()
      } catch (e) {
        if (e instanceof Error) e.message = `${e.message}\n${replayHint(seed)}`
        throw e
      }
      cutsDuringOpen += run.cutsDuringOpen
      cutsMidEpoch += run.cutsMidEpoch
      tornTailsCut += run.tornTailsCut
    }
    // The runs did reach the interesting places (a guard against a generator that drifted).
    if (seedsToRun().length > 1) {
      expect(cutsDuringOpen).toBeGreaterThan(10)
      expect(cutsMidEpoch).toBeGreaterThan(SEEDS)
      expect(tornTailsCut).toBeGreaterThan(SEEDS / 2)
    }
  })
})
