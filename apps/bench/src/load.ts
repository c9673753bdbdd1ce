import * as hdr from 'hdr-histogram-js'

export interface LoadResult {
  readonly ops: number
  readonly errors: number
  readonly seconds: number
  readonly opsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

/**
 * Keeps `concurrency` calls of `op` in flight for `seconds` (after a short warm-up) and
 * records each call's latency. Closed loop: a new call starts when one finishes.
 */
export async function runLoad(concurrency: number, seconds: number, op: (worker: number, n: number) => Promise<void>): Promise<LoadResult> {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 })
  let measuring = false
  let running = true
  let ops = 0
  let errors = 0
  const workers = Array.from({ length: concurrency }, async (_, w) => {
    for (let n = 0; running; n++) {
      const t0 = performance.now()
      try {
        await op(w, n)
        if (measuring) {
          histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)))
          ops++
        }
      } catch {
        if (measuring) errors++
      }
    }
  })
  await sleep(Math.min(2000, seconds * 200))
  measuring = true
  const start = performance.now()
  await sleep(seconds * 1000)
  measuring = false
  const elapsed = (performance.now() - start) / 1000
  running = false
  await Promise.all(workers)
  const us = (p: number) => histogram.getValueAtPercentile(p) / 1000
  return { ops, errors, seconds: elapsed, opsPerSecond: ops / elapsed, p50Ms: us(50), p99Ms: us(99), maxMs: histogram.maxValue / 1000 }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
