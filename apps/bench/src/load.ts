/**
 * The load generator: `concurrency` workers in a closed loop (a worker starts its next call
 * when the last one ends), every call's latency into HDR histograms, acknowledgements
 * counted per time bucket. One generator drives every system, so the rows compare.
 */
import { createRng } from '@kv/consensus'
import type * as hdr from 'hdr-histogram-js'
import type { Scenario } from './result.js'
import { GapTracker, newHistogram, recordMs } from './stats.js'
import { chooser, type Driver } from './workload.js'

export interface LoadOptions {
  scenario: Scenario
  concurrency: number
  /** Worker w uses drivers[w % drivers.length]. */
  drivers: readonly Driver[]
  records: number
  value: Uint8Array
  warmupMs: number
  measureMs: number
  seed: number
  /** Width of a timeline bucket (default 100 ms). */
  bucketMs?: number
  /** Run at this time after the measured window opens (a fault); its time is returned. */
  event?: { atMs: number; run: () => Promise<void> }
  /** Called when the measured window opens and closes (CPU readings). */
  onMeasureStart?: () => void
  onMeasureEnd?: () => void
  /** Every 250 ms: time into the row (warm-up included) and calls completed in the window so far. */
  onProgress?: (elapsedMs: number, measuredOps: number) => void
}

export interface LoadResult {
  ops: number
  errors: number
  /** A count per error message (the first few kinds). */
  errorKinds: Map<string, number>
  seconds: number
  all: hdr.Histogram
  read: hdr.Histogram
  write: hdr.Histogram
  /** Acknowledged calls per bucket of the measured window. */
  timeline: number[]
  bucketMs: number
  longestGapMs: number
  /** When the event ran, ms into the measured window; null without one. */
  eventAtMs: number | null
}

const maxErrorKinds = 8

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const bucketMs = o.bucketMs ?? 100
  const all = newHistogram()
  const byKind = { read: newHistogram(), write: newHistogram() }
  const timeline = new Array<number>(Math.ceil(o.measureMs / bucketMs)).fill(0)
  const errorKinds = new Map<string, number>()
  let measureStart = Number.POSITIVE_INFINITY
  let measuring = false
  let running = true
  let ops = 0
  let errors = 0
  let gaps: GapTracker | null = null
  const rowStart = performance.now()

  const workers = Array.from({ length: o.concurrency }, async (_, w) => {
    const driver = o.drivers[w % o.drivers.length]!
    const next = chooser(o.scenario, o.records, createRng(o.seed * 7919 + w))
    while (running) {
      const op = next()
      const t0 = performance.now()
      try {
        await (op.kind === 'read' ? driver.get(op.key) : driver.put(op.key, o.value))
        const t1 = performance.now()
        if (measuring && t0 >= measureStart) {
          recordMs(all, t1 - t0)
          recordMs(byKind[op.kind], t1 - t0)
          ops++
        }
        if (measuring) {
          const b = Math.floor((t1 - measureStart) / bucketMs)
          if (b < timeline.length) timeline[b]!++
          gaps!.ack(t1)
        }
      } catch (e) {
        if (measuring) {
          errors++
          const kind = e instanceof Error ? `${e.constructor.name}: ${e.message}`.slice(0, 160) : String(e)
          if (errorKinds.has(kind) || errorKinds.size < maxErrorKinds) errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1)
        }
      }
    }
  })

  const ticker = o.onProgress === undefined ? null : setInterval(() => o.onProgress!(performance.now() - rowStart, ops), 250)
  try {
    await sleep(o.warmupMs)
    o.onMeasureStart?.()
    measureStart = performance.now()
    gaps = new GapTracker(measureStart)
    measuring = true
    let eventAtMs: number | null = null
    if (o.event !== undefined) {
      await sleep(o.event.atMs)
      eventAtMs = performance.now() - measureStart
      await o.event.run()
      await sleep(Math.max(0, o.measureMs - (performance.now() - measureStart)))
    } else {
      await sleep(o.measureMs)
    }
    measuring = false
    const end = performance.now()
    o.onMeasureEnd?.()
    running = false
    await Promise.all(workers)
    return {
      ops, errors, errorKinds, seconds: (end - measureStart) / 1000, all, read: byKind.read, write: byKind.write,
      timeline, bucketMs, longestGapMs: gaps.longestMs(end), eventAtMs,
    }
  } finally {
    running = false
    if (ticker !== null) clearInterval(ticker)
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
