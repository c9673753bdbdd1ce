/**
 * `--html FILE`: one self-contained page (inline CSS and SVG, no script, nothing fetched)
 * with throughput against concurrency per scenario, latency percentiles per row, the
 * failover timelines, the group scaling, and every figure in a table.
 */
import { esc, failoverChart, latencyChart, legendHtml, scalingChart, throughputChart, wantsLogScale } from './charts.js'
import { scenarios, type BenchResult, type Row } from './result.js'
import { bytes, loadOrder, ms, systemOrder, thousands } from './table.js'

const style = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1d232b; margin: 24px 32px 48px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 6px; padding-top: 10px; border-top: 1px solid #dde2e8; }
h3 { font-size: 14px; margin: 0 0 4px; font-weight: 600; }
p { max-width: 980px; margin: 4px 0 8px; }
.meta { color: #4a5663; }
.note { color: #6b4e00; background: #fff6dc; border: 1px solid #f0dca0; padding: 6px 10px; border-radius: 4px; display: inline-block; }
.grid-2 { display: flex; flex-wrap: wrap; gap: 18px 28px; }
figure { margin: 8px 0; }
figcaption { font-weight: 600; margin-bottom: 2px; }
.chart { display: block; font: 12px system-ui, "DejaVu Sans", sans-serif; }
.chart .grid { stroke: #e3e7ec; stroke-width: 1; }
.chart .tick { fill: #5a6570; font-size: 11px; }
.chart .grid.minor { stroke: #f1f3f5; }
.chart .tick.minor { fill: #9aa3ad; font-size: 10px; }
.chart .axis { fill: #37414b; font-size: 12px; }
.chart .label { fill: #1d232b; font-size: 12px; }
.chart .figures { fill: #37414b; font-size: 12px; font-variant-numeric: tabular-nums; }
.chart .band { fill: #f5f7f9; }
.chart .mark { fill: #c0392b; font-size: 12px; font-weight: 600; }
.chart .mark.ok { fill: #1e8449; }
.chart .halo { paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
.scroll { overflow-x: auto; max-width: 100%; }
.legend { list-style: none; padding: 0; margin: 6px 0 10px; display: flex; flex-wrap: wrap; gap: 6px 18px; }
.legend li { display: flex; align-items: center; gap: 6px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 12.5px; }
th, td { padding: 3px 6px; border-bottom: 1px solid #e6e9ed; text-align: right; white-space: nowrap; }
th { background: #f3f5f7; white-space: normal; vertical-align: bottom; max-width: 90px; }
td.l, th.l { text-align: left; }
tr.first td { border-top: 2px solid #c9d0d8; }
.notes li { margin: 2px 0; }
`

function byPoint(rows: readonly Row[]): Array<{ scenario: string; valueBytes: number; rows: Row[] }> {
  const out: Array<{ scenario: string; valueBytes: number; rows: Row[] }> = []
  for (const r of rows) {
    let g = out.find((x) => x.scenario === r.scenario && x.valueBytes === r.valueBytes)
    if (g === undefined) out.push((g = { scenario: r.scenario, valueBytes: r.valueBytes, rows: [] }))
    g.rows.push(r)
  }
  return out.sort((a, b) => a.valueBytes - b.valueBytes || scenarios.indexOf(a.scenario as Row['scenario']) - scenarios.indexOf(b.scenario as Row['scenario']))
}

const scenarioTitle: Record<string, string> = {
  write: 'write: puts, uniform keys',
  read: 'read: linearizable gets, uniform keys',
  mixed: 'mixed: 50 % gets, 50 % puts, uniform keys',
  'ycsb-a': 'YCSB-A: 50 % gets, 50 % updates, Zipfian keys',
}

function systemsOf(rows: readonly Row[]): Array<{ id: string; label: string }> {
  const seen = new Map<string, string>()
  for (const r of rows) if (!seen.has(r.system.id)) seen.set(r.system.id, r.system.label)
  return [...seen].map(([id, label]) => ({ id, label }))
}

function table(all: readonly Row[]): string {
  const rows = [...all.filter((r) => r.type === 'load').sort(loadOrder), ...all.filter((r) => r.type !== 'load')]
  const comparators = [...new Set(rows.flatMap((r) => Object.keys(r.ratio)))].sort()
  const head = ['scenario', 'value', 'conc', 'system', 'ops/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'errors', 'CPU servers', 'busiest', 'CPU gen', 'CPU other', 'ops/s at 1 core / replica', ...comparators.map((c) => `÷ ${c}`)]
  const body = rows.map((r, i) => {
    const l = r.latencyMs
    const lat = (v: number | undefined) => (v === undefined ? '-' : ms(v))
    const prev = rows[i - 1]
    const first = prev !== undefined && (prev.type !== r.type || prev.scenario !== r.scenario || prev.valueBytes !== r.valueBytes || prev.concurrency !== r.concurrency)
    const cells = [
      `<td class="l">${r.scenario}</td>`, `<td>${bytes(r.valueBytes)}</td>`, `<td>${r.concurrency}</td>`,
      `<td class="l">${esc(r.system.label)}${r.failover === undefined ? '' : ` <b>(failover: ${r.failover.fault})</b>`}</td>`,
      `<td>${thousands(r.opsPerSecond)}</td>`, `<td>${lat(l?.p50)}</td>`, `<td>${lat(l?.p90)}</td>`, `<td>${lat(l?.p99)}</td>`, `<td>${lat(l?.p999)}</td>`, `<td>${lat(l?.max)}</td>`,
      `<td>${r.errors}</td>`, `<td>${r.cpu.serverCores.toFixed(2)}</td>`, `<td class="l">${r.cpu.busiestServerCores.toFixed(2)} ${esc(r.cpu.busiestServer)}</td>`, `<td>${r.cpu.loadGeneratorCores.toFixed(2)}</td>`, `<td>${r.cpu.otherCores === null ? '-' : r.cpu.otherCores.toFixed(2)}</td>`,
      `<td>${r.projectedOpsPerSecondOneCorePerReplica === null ? '' : thousands(r.projectedOpsPerSecondOneCorePerReplica)}</td>`,
      ...comparators.map((c) => `<td>${r.ratio[c] === undefined ? '' : `${r.ratio[c].toFixed(2)}×`}</td>`),
    ]
    return `<tr${first ? ' class="first"' : ''} data-row="${esc(r.id)}">${cells.join('')}</tr>`
  })
  const leftAligned = new Set(['scenario', 'system', 'busiest'])
  return `<div class="scroll"><table><thead><tr>${head.map((h) => `<th${leftAligned.has(h) ? ' class="l"' : ''}>${esc(h)}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table></div>`
}

export function renderHtml(result: BenchResult): string {
  const load = result.rows.filter((r) => r.type === 'load')
  const single = load.filter((r) => (r.system.groups ?? 1) === 1)
  const failover = result.rows.filter((r) => r.failover !== undefined)
  const multi = load.filter((r) => r.system.product === 'kv' && (r.system.groups ?? 1) > 1)
  const m = result.machine
  const s = result.settings
  const when = result.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')
  const sections: string[] = []

  const points = byPoint(single)
  const logY = wantsLogScale(single)
  if (points.length > 0) {
    sections.push(`<h2 id="throughput">Throughput against concurrency</h2>
<p>Calls completed per second with ${Math.min(...s.concurrency)} to ${Math.max(...s.concurrency)} calls in flight (closed loop), every system driven by the same load generator${logY ? '; ops/s on a log scale, as the systems differ by more than 20×' : ''}. Hover a point for its figure.</p>
${legendHtml(systemsOf(single))}
<div class="grid-2">${points.map((p) => `<figure><figcaption>${esc(scenarioTitle[p.scenario] ?? p.scenario)} · ${bytes(p.valueBytes)}</figcaption>${throughputChart(p.rows, s.concurrency, logY)}</figure>`).join('')}</div>`)
    sections.push(`<h2 id="latency">Latency percentiles</h2>
<p>Each line is one row: the bar runs from p50 to p99, the white tick is p90, the whisker ends at the slowest call. Figures at the right in ms.</p>
${byPoint(load).map((p) => `<figure><figcaption>${esc(scenarioTitle[p.scenario] ?? p.scenario)} · ${bytes(p.valueBytes)}</figcaption>${latencyChart([...p.rows].sort((a, b) => a.concurrency - b.concurrency || systemOrder(a, b)))}</figure>`).join('')}`)
  }
  if (failover.length > 0) {
    sections.push(`<h2 id="failover">Failover</h2>
<p>Writes (${failover[0]!.concurrency} in flight) against a fresh cluster; its leader is SIGKILLed, or cut off from its peers with iptables while clients still reach it. Acknowledged writes per ${failover[0]!.failover!.bucketMs} ms, shown per second.</p>
${failover.map((r) => `<figure><figcaption>${esc(r.system.label)}, ${r.failover!.fault === 'sigkill' ? 'SIGKILL' : 'iptables cut'} of ${esc(r.failover!.victim)}: longest gap between acknowledged writes ${(r.failover!.longestGapMs / 1000).toFixed(2)} s, back to ≥90 % ${r.failover!.recoverySeconds === null ? 'not within the row' : `after ${r.failover!.recoverySeconds.toFixed(2)} s`}</figcaption>${failoverChart(r)}</figure>`).join('')}`)
  }
  if (multi.length > 0) {
    const scaling = byPoint(load.filter((r) => r.system.product === 'kv' && multi.some((x) => x.scenario === r.scenario && x.valueBytes === r.valueBytes && x.concurrency === r.concurrency)))
    sections.push(`<h2 id="scaling">Shard groups</h2>
<p>The same load on 1 to ${Math.max(...s.groups)} shard groups (more than one adds a 3-replica controller group), every replica on this machine's ${m.cores} cores. Solid bar: measured ops/s. Dashed outline (figure above it): what one core per replica would give if CPU were the only bound (ops/s ÷ the busiest replica's cores).</p>
<div class="grid-2">${scaling.map((p) => `<figure><figcaption>${esc(scenarioTitle[p.scenario] ?? p.scenario)}</figcaption>${scalingChart(p.rows)}</figure>`).join('')}</div>`)
  }
  sections.push(`<h2 id="table">Every row</h2>
<p>Latency in ms. CPU in cores (CPU seconds per second of the measured window): all the system's server processes, the busiest one, the load generator, and everything else on the machine. ÷: kv ops/s divided by the comparator's for the same scenario, value size and concurrency.</p>
${table(result.rows)}`)
  if (result.notes.length > 0) sections.push(`<h2 id="notes">Notes</h2><ul class="notes">${result.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`)

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>kv bench · ${esc(when)}</title><style>${style}</style></head>
<body>
<h1>kv bench</h1>
<p class="meta">${esc(when)} · ${m.cores} cores (${esc(m.cpuModel)}) · Node ${esc(m.node)} · load average ${m.loadAverageAtStart.join(' ')} at start · ${s.secondsPerRow} s per row after ${s.warmupSeconds} s warm-up · ${thousands(s.records)} keys · ${result.wallSeconds} s in all${s.quick ? ' · --quick' : ''}</p>
<p class="note">Every server and the load generator share this machine; figures from a busy machine are noisy. Compare rows of one run, and run it more than once.</p>
${sections.join('\n')}
</body></html>
`
}
