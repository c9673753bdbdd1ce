/**
 * The arithmetic of the report, kept pure: percentiles from a histogram, the kv ÷ comparator
 * ratios, and what a failover row's timeline says (longest stall, time back to full speed).
 */
import * as hdr from 'hdr-histogram-js'
import type { Latency, Row } from './result.js'

/** Latencies are recorded in microseconds, from 1 µs to 10 min, 3 significant digits. */
export function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 })
}

export function recordMs(h: hdr.Histogram, latencyMs: number): void {
  h.recordValue(Math.max(1, Math.round(latencyMs * 1000)))
}

/** p50/p90/p99/p99.9/max/mean in ms, or null for an empty histogram. */
export function latencyOf(h: hdr.Histogram): Latency | null {
  if (h.totalCount === 0) return null
  const at = (p: number) => round3(h.getValueAtPercentile(p) / 1000)
  return { p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: round3(h.maxValue / 1000), mean: round3(h.mean / 1000) }
}

export const round3 = (x: number): number => Math.round(x * 1000) / 1000

/** What a ratio compares: the same load on another system. */
export function loadKey(r: Pick<Row, 'type' | 'scenario' | 'valueBytes' | 'concurrency'>): string {
  return `${r.type}/${r.scenario}/${r.valueBytes}/${r.concurrency}`
}

/**
 * Fills each kv load row's `ratio`: its ops/s ÷ each comparator's ops/s for the same scenario,
 * value size and concurrency (rounded to 2 decimals; left out when the comparator did nothing).
 */
export function withRatios(rows: readonly Row[]): Row[] {
  const comparatorRows = rows.filter((r) => r.type === 'load' && r.system.product !== 'kv')
  return rows.map((r) => {
    if (r.type !== 'load' || r.system.product !== 'kv') return r
    const ratio: Record<string, number> = {}
    for (const c of comparatorRows) {
      if (loadKey(c) !== loadKey(r) || c.opsPerSecond <= 0) continue
      ratio[c.system.id] = Math.round((r.opsPerSecond / c.opsPerSecond) * 100) / 100
    }
    return { ...r, ratio }
  })
}

/** opsPerSecond ÷ the busiest replica's cores: the throughput if each replica had a core and CPU were the only bound. */
export function projectOneCorePerReplica(opsPerSecond: number, busiestServerCores: number): number | null {
  if (busiestServerCores <= 0.01) return null
  return Math.round(opsPerSecond / busiestServerCores)
}

export interface FailoverMetrics {
  preFaultOpsPerSecond: number
  recoverySeconds: number | null
}

/** The window whose rate must come back: 500 ms. */
export const RECOVERY_WINDOW_MS = 500
/** "Back to full throughput": at least this share of the pre-fault rate. */
export const RECOVERY_SHARE = 0.9

/**
 * From acknowledged writes per bucket: the mean rate before the fault, and the time from the
 * fault to the start of the first window of RECOVERY_WINDOW_MS (at or after the fault's
 * bucket) whose rate is ≥ RECOVERY_SHARE of it. A fault that never dents the rate recovers
 * in 0 s; one that has not recovered when the timeline ends gives null.
 */
export function failoverMetrics(timeline: readonly number[], bucketMs: number, faultAtMs: number): FailoverMetrics {
  const faultBucket = Math.floor(faultAtMs / bucketMs)
  const before = timeline.slice(0, faultBucket)
  const preFaultOpsPerSecond = before.length === 0 ? 0 : (before.reduce((a, b) => a + b, 0) / before.length) * (1000 / bucketMs)
  const window = Math.max(1, Math.round(RECOVERY_WINDOW_MS / bucketMs))
  const needed = RECOVERY_SHARE * preFaultOpsPerSecond * (window * bucketMs / 1000)
  let sum = timeline.slice(faultBucket, faultBucket + window).reduce((a, b) => a + b, 0)
  for (let i = faultBucket; i + window <= timeline.length; i++) {
    if (i > faultBucket) sum += timeline[i + window - 1]! - timeline[i - 1]!
    if (sum >= needed) {
      return { preFaultOpsPerSecond: Math.round(preFaultOpsPerSecond), recoverySeconds: round3(Math.max(0, i * bucketMs - faultAtMs) / 1000) }
    }
  }
  return { preFaultOpsPerSecond: Math.round(preFaultOpsPerSecond), recoverySeconds: null }
}

/** The longest time between consecutive acknowledgements, from the window's start to its end (times in ms, in order). */
export class GapTracker {
  #last: number
  #longest = 0

  constructor(startMs: number) {
    this.#last = startMs
  }

  ack(atMs: number): void {
    if (atMs - this.#last > this.#longest) this.#longest = atMs - this.#last
    this.#last = atMs
  }

  /** The longest gap, counting the one from the last acknowledgement to `endMs`. */
  longestMs(endMs: number): number {
    return round3(Math.max(this.#longest, endMs - this.#last))
  }
}
