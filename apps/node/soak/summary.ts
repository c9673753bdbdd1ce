/** What one soak run found, and how it is printed. */
import type { LoadCounts } from './load.js'

export type Verdict = 'LINEARIZABLE' | 'NOT LINEARIZABLE' | 'UNKNOWN'

export interface FaultRow {
  /** A fault kind, or `none` (gaps that began with no fault active). */
  readonly kind: string
  readonly count: number
  readonly longestWriteGapMs: number
  /** When that gap began, in seconds from the start of the load (null: no gap). */
  readonly gapAtS: number | null
}

export interface ReplicaDigest {
  readonly id: string
  readonly appliedIndex: number | null
  readonly digest: string | null
  readonly keys: number | null
}

export interface GroupDigests {
  readonly group: string
  readonly equal: boolean
  readonly replicas: readonly ReplicaDigest[]
}

export interface Migration {
  readonly op: 'add' | 'remove'
  readonly group: string
  readonly epoch: number
  readonly atS: number
}

export interface RunSummary {
  readonly protocol: 'raft' | 'paxos'
  readonly sharded: boolean
  readonly seed: number
  readonly minutes: number
  readonly clients: number
  /** "1 group × 5 replicas (f=2)", "ctl, g1, g2 + spare g3, 3 replicas each (f=1)". */
  readonly layout: string
  readonly ops: LoadCounts & { readonly total: number }
  readonly faults: readonly FaultRow[]
  /** Drawn faults that could not run when due (the bound, or too many under way). */
  readonly skippedFaults: number
  readonly migrations: readonly Migration[]
  readonly verdict: Verdict
  /** The checker's reason (UNKNOWN) or explanation (NOT LINEARIZABLE). */
  readonly verdictDetail: string | null
  readonly searchSteps: number
  readonly checkSeconds: number
  readonly digests: readonly GroupDigests[]
  readonly digestsEqual: boolean
  /** Replicas that exited on their own, faults that failed, migrations that did not settle. */
  readonly anomalies: readonly string[]
  /** Kept data folder (with --keep, or when the run failed): replica logs, the history. */
  readonly dataDir: string | null
  readonly pass: boolean
}

const int = (n: number) => n.toLocaleString('en-US')

/** The summary as printed at the end of a run. */
export function formatSummary(s: RunSummary): string {
  const lines: string[] = []
  lines.push(`== summary: ${s.protocol}${s.sharded ? ' sharded' : ''}, ${s.minutes} min, seed ${s.seed}, ${s.layout}, ${s.clients} clients ==`)
  const errors = Object.entries(s.ops.errors).sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ${int(n)}`).join(', ')
  lines.push(`ops: ${int(s.ops.total)} (${int(s.ops.ok)} ok, ${int(s.ops.failed)} failed, ${int(s.ops.unknown)} unknown: timed out, may have applied)${errors === '' ? '' : `; errors: ${errors}`}`)
  lines.push('fault         count  longest write gap')
  for (const f of s.faults) {
    const at = f.gapAtS === null ? '' : ` (from t=${f.gapAtS.toFixed(1)}s)`
    lines.push(`  ${f.kind.padEnd(10)} ${String(f.count).padStart(6)}  ${(f.longestWriteGapMs / 1000).toFixed(2).padStart(6)} s${at}`)
  }
  lines.push(`  skipped (bound): ${s.skippedFaults}`)
  if (s.migrations.length > 0) lines.push(`migrations: ${s.migrations.map((m) => `${m.op} ${m.group} → epoch ${m.epoch} at t=${m.atS.toFixed(1)}s`).join('; ')}`)
  lines.push(`verdict: ${s.verdict} (${int(s.searchSteps)} search steps, ${s.checkSeconds.toFixed(1)} s)${s.verdictDetail === null ? '' : `: ${s.verdictDetail}`}`)
  lines.push('digests:')
  for (const g of s.digests) {
    lines.push(`  ${g.group}: ${g.equal ? 'equal' : 'DIFFER'}`)
    for (const r of g.replicas) {
      const keys = r.keys === null ? '' : `, ${r.keys} keys`
      lines.push(`    ${r.id.padEnd(7)} applied ${r.appliedIndex ?? '?'}, digest ${r.digest ?? '(no answer)'}${keys}`)
    }
  }
  lines.push(`digests equal: ${s.digestsEqual ? 'yes' : 'no'}`)
  for (const a of s.anomalies) lines.push(`anomaly: ${a}`)
  if (s.dataDir !== null) lines.push(`data kept in ${s.dataDir}`)
  lines.push(`result: ${s.pass ? 'PASS' : 'FAIL'}`)
  return lines.join('\n')
}
