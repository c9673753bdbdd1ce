/**
 * The text report on stdout: the load table (rows of one scenario, value size and
 * concurrency next to each other, so the systems compare), the failover table, the scaling
 * table when several group counts ran, then what was skipped and how to read the columns.
 */
import { protocols, scenarios, type BenchResult, type Row } from './result.js'

export const thousands = (n: number): string => Math.round(n).toLocaleString('en-US')

/** Milliseconds with three significant figures or so: 0.412, 4.52, 15.6, 240. */
export function ms(x: number): string {
  if (x < 1) return x.toFixed(3)
  if (x < 10) return x.toFixed(2)
  if (x < 100) return x.toFixed(1)
  return Math.round(x).toString()
}

export const bytes = (n: number): string => (n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`)
const cores = (x: number): string => x.toFixed(2)
const other = (r: Row): string => (r.cpu.otherCores === null ? '-' : cores(r.cpu.otherCores))

/** "0.71 g1-r1 (leader)": the busiest server process, with its role when it leads. */
function busiest(r: Row): string {
  const p = r.cpu.processes.find((x) => x.name === r.cpu.busiestServer)
  const leads = p !== undefined && /leader$/.test(p.role)
  return `${cores(r.cpu.busiestServerCores)} ${r.cpu.busiestServer}${leads ? ' (leader)' : ''}`
}

/** Right-aligns every column but those named in `left`; columns apart by two spaces. */
export function renderTable(header: readonly string[], cells: ReadonlyArray<readonly string[]>, left: ReadonlySet<number>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)))
  const line = (c: readonly string[]) => c.map((x, i) => (left.has(i) ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ').trimEnd()
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)]
}

/** One finished row, for the progress lines. */
export function formatRowLine(r: Row): string {
  const l = r.latencyMs
  const lat = l === null ? 'no call completed' : `p50 ${ms(l.p50)} p99 ${ms(l.p99)} ms`
  return `${r.system.label} ${r.scenario} ${bytes(r.valueBytes)} c=${r.concurrency}: ${thousands(r.opsPerSecond)} ops/s, ${lat}${r.errors > 0 ? `, ${r.errors} errors` : ''}`
}

const productOrder = { kv: 0, etcd: 1, redis: 2 } as const

/** Systems in a fixed order: kv (one group, then more), etcd, redis. */
export function systemOrder(a: Row, b: Row): number {
  return (
    productOrder[a.system.product] - productOrder[b.system.product] ||
    (a.system.groups ?? 0) - (b.system.groups ?? 0) ||
    protocols.indexOf(a.system.protocol ?? 'raft') - protocols.indexOf(b.system.protocol ?? 'raft') ||
    a.system.id.localeCompare(b.system.id)
  )
}

/** Rows of one scenario, value size and concurrency together, in the order the flags name scenarios. */
export function loadOrder(a: Row, b: Row): number {
  return (
    a.valueBytes - b.valueBytes ||
    scenarios.indexOf(a.scenario) - scenarios.indexOf(b.scenario) ||
    a.concurrency - b.concurrency ||
    systemOrder(a, b)
  )
}

const ratioCell = (r: Row, id: string): string => {
  const x = r.ratio[id]
  return x === undefined ? '' : `${x.toFixed(2)}×`
}

export function loadTable(rows: readonly Row[]): string[] {
  const load = rows.filter((r) => r.type === 'load').sort(loadOrder)
  const comparatorIds = ['etcd', 'redis'].filter((id) => load.some((r) => r.system.id === id))
  const header = ['scenario', 'value', 'conc', 'system', 'ops/s', 'p50', 'p90', 'p99', 'max', 'err', 'CPU srv', 'busiest', 'gen', 'other', ...comparatorIds.map((id) => `÷${id}`)]
  const cells: string[][] = []
  let lastGroup = ''
  for (const r of load) {
    const group = `${r.scenario}/${r.valueBytes}/${r.concurrency}`
    const first = group !== lastGroup
    if (first && lastGroup !== '' && load.length > 8) cells.push([])
    lastGroup = group
    const l = r.latencyMs
    cells.push([
      first ? r.scenario : '', first ? bytes(r.valueBytes) : '', first ? String(r.concurrency) : '',
      r.system.label, thousands(r.opsPerSecond),
      l === null ? '-' : ms(l.p50), l === null ? '-' : ms(l.p90), l === null ? '-' : ms(l.p99), l === null ? '-' : ms(l.max),
      String(r.errors), cores(r.cpu.serverCores), busiest(r), cores(r.cpu.loadGeneratorCores), other(r),
      ...comparatorIds.map((id) => ratioCell(r, id)),
    ])
  }
  if (cells.length === 0) return []
  return ['load: latency in ms; CPU in cores (CPU seconds per second)', ...renderTable(header, cells, new Set([0, 1, 3, 11])), '']
}

export function failoverTable(rows: readonly Row[]): string[] {
  const fo = rows.filter((r) => r.failover !== undefined)
  if (fo.length === 0) return []
  const header = ['system', 'fault', 'leader', 'new leader', 'ops/s before', 'longest gap', 'back to ≥90 %', 'ops/s overall', 'err']
  const cells = fo.map((r) => {
    const f = r.failover!
    return [
      r.system.label, f.fault === 'sigkill' ? 'SIGKILL' : 'iptables cut', f.victim, f.newLeader ?? '-', thousands(f.preFaultOpsPerSecond),
      `${(f.longestGapMs / 1000).toFixed(2)} s`, f.recoverySeconds === null ? 'not in row' : `${f.recoverySeconds.toFixed(2)} s`,
      thousands(r.opsPerSecond), String(r.errors),
    ]
  })
  const r0 = fo[0]!
  return [
    `failover: ${r0.concurrency} writes of ${bytes(r0.valueBytes)} in flight; the leader struck ${r0.failover!.faultAtSeconds.toFixed(1)} s into a ${r0.seconds.toFixed(0)} s window`,
    ...renderTable(header, cells, new Set([0, 1, 2, 3])),
    '',
  ]
}

export function scalingTable(rows: readonly Row[]): string[] {
  const kv = rows.filter((r) => r.type === 'load' && r.system.product === 'kv')
  const multi = kv.filter((r) => (r.system.groups ?? 1) > 1)
  if (multi.length === 0) return []
  const points = new Set(multi.map((r) => `${r.scenario}/${r.valueBytes}/${r.concurrency}`))
  const shown = kv
    .filter((r) => points.has(`${r.scenario}/${r.valueBytes}/${r.concurrency}`))
    .sort((a, b) => scenarios.indexOf(a.scenario) - scenarios.indexOf(b.scenario) || (a.system.protocol ?? '').localeCompare(b.system.protocol ?? '') || (a.system.groups ?? 1) - (b.system.groups ?? 1))
  const header = ['scenario', 'protocol', 'groups', 'replicas', 'ops/s', 'p99', 'CPU srv', 'busiest', 'gen', 'other', 'ops/s at 1 core/replica']
  const cells = shown.map((r) => [
    r.scenario, r.system.protocol ?? '', String(r.system.groups ?? 1), String(r.cpu.processes.length - 1), thousands(r.opsPerSecond),
    r.latencyMs === null ? '-' : ms(r.latencyMs.p99), cores(r.cpu.serverCores), busiest(r),
    cores(r.cpu.loadGeneratorCores), other(r), r.projectedOpsPerSecondOneCorePerReplica === null ? '-' : thousands(r.projectedOpsPerSecondOneCorePerReplica),
  ])
  const r0 = shown[0]!
  return [
    `scaling: ${bytes(r0.valueBytes)} values, ${r0.concurrency} in flight; ${r0.cpu.machineCores} cores shared by every replica and the load generator`,
    ...renderTable(header, cells, new Set([0, 1, 7])),
    '',
  ]
}

export const legend = [
  'ops/s: calls completed per second of the measured window (closed loop: `conc` calls in flight).',
  'p50..max: latency of completed calls, ms (HDR histogram). err: failed calls (not in ops/s).',
  'CPU srv: cores used by all the system\'s server processes; busiest: the one that used most; gen: the load generator',
  '(this bench process, every client in it); other: everything else on the machine (others\' work). When srv + gen + other',
  'is near the machine\'s cores the row was bound by CPU; well below, by fsync or round trips.',
  '÷etcd, ÷redis: kv ops/s divided by the comparator\'s, same scenario, value size and concurrency.',
  'ops/s at 1 core/replica: ops/s ÷ the busiest replica\'s cores: what a core per replica would give if CPU were the only bound.',
]

export function formatReport(result: BenchResult): string {
  const m = result.machine
  const head = [
    `kv bench, ${result.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}: ${m.cores} cores (${m.cpuModel}), load average ${m.loadAverageAtStart.join(' ')} at start; ` +
      `${result.settings.secondsPerRow} s per row after ${result.settings.warmupSeconds} s warm-up; ${thousands(result.settings.records)} keys; wall ${result.wallSeconds} s`,
    '',
  ]
  const notes = result.notes.length === 0 ? [] : ['notes:', ...result.notes.map((n) => `  ${n}`), '']
  const scaling = scalingTable(result.rows)
  // The last legend line explains a column of the scaling table only.
  const shownLegend = scaling.length === 0 ? legend.slice(0, -1) : legend
  return [...head, ...loadTable(result.rows), ...failoverTable(result.rows), ...scaling, ...notes, ...shownLegend].join('\n')
}
