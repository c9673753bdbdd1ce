/**
 * Write gaps: how long the cluster went without acknowledging any write, per fault kind.
 * Between two consecutive acknowledgements (and from the start of the load to the first,
 * from the last to its end) lies a gap; it is attributed to every fault active at its start,
 * or to `none` when no fault was.
 */

/** One fault as it happened: from its injection to the end of its heal. */
export interface FaultSpan {
  readonly kind: string
  readonly startMs: number
  readonly endMs: number
}

export interface GapStats {
  /** Faults of this kind (0 for `none`). */
  readonly faults: number
  /** The longest gap that began while a fault of this kind was active (0 with no such gap). */
  readonly longestGapMs: number
  /** When that gap began (null with no gap). */
  readonly atMs: number | null
}

/** Gaps that begin with no fault active. */
export const noFault = 'none'

/**
 * Per fault kind (every kind in `spans`, and `none`), the longest write gap in [fromMs, toMs].
 * `ackTimes` need not be sorted; times outside the window are ignored.
 */
export function writeGaps(ackTimes: readonly number[], spans: readonly FaultSpan[], fromMs: number, toMs: number): Map<string, GapStats> {
  if (!(toMs >= fromMs)) throw new RangeError(`window [${fromMs}, ${toMs}] is empty`)
  const stats = new Map<string, { faults: number; longestGapMs: number; atMs: number | null }>()
  const entry = (kind: string) => {
    let s = stats.get(kind)
    if (s === undefined) {
      s = { faults: 0, longestGapMs: 0, atMs: null }
      stats.set(kind, s)
    }
    return s
  }
  entry(noFault)
  for (const span of spans) entry(span.kind).faults++

  const points = [fromMs, ...ackTimes.filter((t) => t >= fromMs && t <= toMs).sort((a, b) => a - b), toMs]
  const byStart = [...spans].sort((a, b) => a.startMs - b.startMs)
  let next = 0
  let active: FaultSpan[] = []
  for (let i = 0; i + 1 < points.length; i++) {
    const start = points[i]!
    const gap = points[i + 1]! - start
    // Sweep: spans that have begun by `start`, less those that have ended.
    while (next < byStart.length && byStart[next]!.startMs <= start) active.push(byStart[next++]!)
    active = active.filter((s) => s.endMs > start)
    const kinds = active.length === 0 ? [noFault] : [...new Set(active.map((s) => s.kind))]
    for (const kind of kinds) {
      const s = entry(kind)
      if (s.atMs === null || gap > s.longestGapMs) {
        s.longestGapMs = gap
        s.atMs = start
      }
    }
  }
  return stats
}
