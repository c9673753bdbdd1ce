/** The report: check labels, the results table and the summary line (pure). */
import type { Check, MutationResult } from './types.js'

/** How a check is named in the table and in `--list`: close to the command that runs it. */
export function checkLabel(c: Check): string {
  if (c.kind === 'sim') return `sim --protocol ${c.check.protocol} --seeds ${c.check.seeds}`
  const files = c.check.files.join(' ')
  return c.check.name === undefined ? files : `${files} -t "${c.check.name}"`
}

export function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`
}

/** The "time to catch" cell: the catching check's wall time, and the seeds a sim needed. */
export function catchCell(r: MutationResult): string {
  if (r.status !== 'caught' || r.catchMs === null) return '-'
  const time = formatSeconds(r.catchMs)
  if (r.seeds === null) return time
  return `${time} (${r.seeds} ${r.seeds === 1 ? 'seed' : 'seeds'})`
}

export function caughtByCell(r: MutationResult): string {
  switch (r.status) {
    case 'caught':
      return r.caughtBy ?? '?'
    case 'survived':
      return 'SURVIVED'
    case 'error': {
      // The whole reason is printed below the table; the cell keeps the table readable.
      const why = r.detail ?? 'unknown'
      return `ERROR: ${why.length > 60 ? `${why.slice(0, 59)}…` : why}`
    }
    default:
      return r.status satisfies never
  }
}

/** Columns padded to their widest cell; a cell never contains a newline. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const clean = (cell: string) => cell.replace(/\s*\n\s*/g, ' ')
  const all = [header, ...rows].map((row) => row.map(clean))
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)))
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join(' | ')
      .trimEnd()
  const rule = widths.map((w) => '-'.repeat(w)).join('-|-')
  return [line(all[0]!), rule, ...all.slice(1).map(line)].join('\n')
}

export function resultsTable(results: readonly MutationResult[]): string {
  return formatTable(
    ['mutation', 'caught by', 'time to catch'],
    results.map((r) => [r.name, caughtByCell(r), catchCell(r)]),
  )
}

export interface Summary {
  readonly mutations: number
  readonly caught: number
  readonly survived: number
  readonly errors: number
}

export function summarize(results: readonly MutationResult[]): Summary {
  const count = (status: MutationResult['status']) => results.filter((r) => r.status === status).length
  return { mutations: results.length, caught: count('caught'), survived: count('survived'), errors: count('error') }
}

export function summaryLine(s: Summary): string {
  return `mutations=${s.mutations} caught=${s.caught} survived=${s.survived}`
}
