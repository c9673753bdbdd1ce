/**
 * The report's charts as inline SVG strings (no script, no fonts or files from elsewhere):
 * throughput against concurrency, latency percentiles per row, a failover timeline, and
 * ops/s per group count. Every mark that stands for a row carries `data-row="<row id>"`.
 */
import type { Row } from './result.js'
import { bytes, ms, thousands } from './table.js'

export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

const fixedColors: Record<string, string> = {
  'kv-raft-g1': '#1f6fb4',
  'kv-paxos-g1': '#2a9d4b',
  'kv-raft-g2': '#5aa3dc',
  'kv-raft-g4': '#0b3d6b',
  'kv-paxos-g2': '#7ccf8e',
  'kv-paxos-g4': '#145a2a',
  etcd: '#e8790c',
  'etcd-gateway': '#b08050',
  redis: '#d1352b',
}
const spare = ['#8e44ad', '#16a085', '#7f8c8d', '#c0392b', '#2c3e50']

export function colorOf(systemId: string): string {
  const known = fixedColors[systemId]
  if (known !== undefined) return known
  let h = 0
  for (const ch of systemId) h = (h * 31 + ch.charCodeAt(0)) >>> 0
  return spare[h % spare.length]!
}

const dashedSystems = new Set(['etcd-gateway'])

/**
 * One y scale for every throughput chart of a page: logarithmic when the systems differ by
 * more than 20× somewhere (a slow system is then not a flat line at the bottom), else linear.
 */
export function wantsLogScale(rows: readonly Row[]): boolean {
  const values = rows.map((r) => r.opsPerSecond).filter((v) => v > 0)
  return values.length > 0 && Math.max(...values) / Math.min(...values) > 20
}

/** Round axis maxima: 1, 2, 2.5, 5 × 10^k. */
export function niceCeil(x: number): number {
  if (x <= 0) return 1
  const p = Math.pow(10, Math.floor(Math.log10(x)))
  for (const m of [1, 2, 2.5, 5, 10]) if (x <= m * p) return m * p
  return 10 * p
}

export function shortCount(n: number): string {
  if (n >= 1_000_000) return `${+(n / 1_000_000).toFixed(1)}M`
  if (n >= 1000) return `${+(n / 1000).toFixed(1)}k`
  return String(Math.round(n))
}

const text = (x: number, y: number, s: string, attrs = ''): string => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`

/** Legend entries as an HTML list (wraps with the page, unlike SVG text). */
export function legendHtml(systems: ReadonlyArray<{ id: string; label: string }>): string {
  return `<ul class="legend">${systems
    .map((s) => `<li><svg width="26" height="10" aria-hidden="true"><line x1="1" y1="5" x2="25" y2="5" stroke="${colorOf(s.id)}" stroke-width="3"${dashedSystems.has(s.id) ? ' stroke-dasharray="5 3"' : ''}/><circle cx="13" cy="5" r="3.5" fill="${colorOf(s.id)}"/></svg>${esc(s.label)}</li>`)
    .join('')}</ul>`
}

/**
 * ops/s (y) against concurrency (x, log2) for every system that ran this scenario and value
 * size; a logarithmic y axis (it says so) when `logY`, see `wantsLogScale`.
 */
export function throughputChart(rows: readonly Row[], concurrencies: readonly number[], logY: boolean): string {
  const W = 420, H = 280, L = 56, R = 14, T = 14, B = 44
  const xs = [...new Set([...concurrencies, ...rows.map((r) => r.concurrency)])].sort((a, b) => a - b)
  const lx = (c: number) => Math.log2(c)
  const [x0, x1] = [lx(xs[0]!), lx(xs.at(-1)!)]
  const px = (c: number) => (x1 === x0 ? (L + W - R) / 2 : L + ((lx(c) - x0) / (x1 - x0)) * (W - L - R))
  const values = rows.map((r) => r.opsPerSecond).filter((v) => v > 0)
  const maxV = Math.max(1, ...values)
  const minV = Math.max(1, Math.min(...values))
  const yTop = logY ? Math.pow(10, Math.ceil(Math.log10(maxV))) : niceCeil(maxV * 1.05)
  const yBottom = logY ? Math.pow(10, Math.floor(Math.log10(minV))) : 0
  const py = (v: number) => {
    const f = logY ? (Math.log10(Math.max(v, yBottom)) - Math.log10(yBottom)) / (Math.log10(yTop) - Math.log10(yBottom)) : v / yTop
    return H - B - f * (H - B - T)
  }
  const decades = Math.round(Math.log10(yTop / yBottom))
  const ticks = logY
    ? Array.from({ length: decades + 1 }, (_, i) => yBottom * Math.pow(10, i))
    : Array.from({ length: 6 }, (_, i) => (yTop * i) / 5)
  // On a log axis, lighter lines (and labels) at 2× and 5× each power of ten, to read values between them.
  const minor = logY ? Array.from({ length: decades }, (_, i) => [2, 5].map((m) => m * yBottom * Math.pow(10, i))).flat() : []
  const parts: string[] = []
  for (const t of minor) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" class="grid minor"/>`)
    parts.push(text(L - 8, py(t) + 4, shortCount(t), 'text-anchor="end" class="tick minor"'))
  }
  for (const t of ticks) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" class="grid"/>`)
    parts.push(text(L - 8, py(t) + 4, shortCount(t), 'text-anchor="end" class="tick"'))
  }
  for (const c of xs) {
    parts.push(`<line x1="${px(c).toFixed(1)}" x2="${px(c).toFixed(1)}" y1="${T}" y2="${H - B}" class="grid"/>`)
    parts.push(text(px(c), H - B + 16, String(c), 'text-anchor="middle" class="tick"'))
  }
  parts.push(text((L + W - R) / 2, H - 8, 'calls in flight (concurrency)', 'text-anchor="middle" class="axis"'))
  parts.push(text(14, (T + H - B) / 2, logY ? 'ops/s (log scale)' : 'ops/s', `text-anchor="middle" class="axis" transform="rotate(-90 14 ${(T + H - B) / 2})"`))
  const bySystem = new Map<string, Row[]>()
  for (const r of rows) bySystem.set(r.system.id, [...(bySystem.get(r.system.id) ?? []), r])
  for (const [id, rs] of bySystem) {
    rs.sort((a, b) => a.concurrency - b.concurrency)
    const color = colorOf(id)
    if (rs.length > 1) {
      const d = rs.map((r, i) => `${i === 0 ? 'M' : 'L'}${px(r.concurrency).toFixed(1)},${py(r.opsPerSecond).toFixed(1)}`).join(' ')
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2.5"${dashedSystems.has(id) ? ' stroke-dasharray="6 4"' : ''}/>`)
    }
    for (const r of rs) {
      parts.push(`<circle cx="${px(r.concurrency).toFixed(1)}" cy="${py(r.opsPerSecond).toFixed(1)}" r="4.5" fill="${color}" stroke="#fff" stroke-width="1.5" data-row="${esc(r.id)}"><title>${esc(`${r.system.label}, ${r.concurrency} in flight: ${thousands(r.opsPerSecond)} ops/s`)}</title></circle>`)
    }
  }
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" class="chart">${parts.join('')}</svg>`
}

/**
 * One line per row: a bar from p50 to p99 in the system's colour, a white tick at p90, a
 * whisker on to the max; the figures written at the right. Log-scale x axis in ms.
 */
export function latencyChart(rows: readonly Row[]): string {
  const rowH = 24, gapH = 8, W = 880, L = 250, R = 230, T = 30, B = 40
  const shown = rows.filter((r) => r.latencyMs !== null)
  // Rows of one concurrency together, a small gap between concurrencies.
  const ys: number[] = []
  let y = T
  shown.forEach((r, i) => {
    if (i > 0 && shown[i - 1]!.concurrency !== r.concurrency) y += gapH
    ys.push(y + rowH / 2)
    y += rowH
  })
  const H = y + B
  const lows = shown.map((r) => r.latencyMs!.p50)
  const highs = shown.map((r) => r.latencyMs!.max)
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(0.01, Math.min(...lows, 1)))))
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...highs, 1))))
  const px = (v: number) => L + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (W - L - R)
  const parts: string[] = []
  shown.forEach((_, i) => {
    if (i % 2 === 0) parts.push(`<rect x="0" y="${(ys[i]! - rowH / 2).toFixed(1)}" width="${W}" height="${rowH}" class="band"/>`)
  })
  for (let t = lo; t <= hi * 1.001; t *= 10) {
    parts.push(`<line x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${T - 4}" y2="${H - B}" class="grid"/>`)
    parts.push(text(px(t), H - B + 16, t >= 1000 ? `${+(t / 1000).toFixed(3)} s` : `${+t.toFixed(3)} ms`, 'text-anchor="middle" class="tick"'))
  }
  parts.push(text((L + W - R) / 2, H - 8, 'latency (log scale)', 'text-anchor="middle" class="axis"'))
  parts.push(text(W - R + 14, T - 10, 'p50 / p90 / p99 / max, ms', 'class="axis"'))
  parts.push(text(L - 10, T - 10, 'system · calls in flight', 'text-anchor="end" class="axis"'))
  shown.forEach((r, i) => {
    const l = r.latencyMs!
    const yy = ys[i]!
    const color = colorOf(r.system.id)
    parts.push(`<g data-row="${esc(r.id)}"><title>${esc(`${r.system.label}, ${r.concurrency} in flight: p50 ${ms(l.p50)}, p90 ${ms(l.p90)}, p99 ${ms(l.p99)}, max ${ms(l.max)} ms`)}</title>`)
    parts.push(text(L - 10, yy + 4, `${r.system.label} · c=${r.concurrency}`, 'text-anchor="end" class="label"'))
    parts.push(`<line x1="${px(l.p99).toFixed(1)}" x2="${px(l.max).toFixed(1)}" y1="${yy}" y2="${yy}" stroke="${color}" stroke-width="1.5"/>`)
    parts.push(`<line x1="${px(l.max).toFixed(1)}" x2="${px(l.max).toFixed(1)}" y1="${yy - 5}" y2="${yy + 5}" stroke="${color}" stroke-width="1.5"/>`)
    parts.push(`<rect x="${px(l.p50).toFixed(1)}" y="${yy - 6}" width="${Math.max(2, px(l.p99) - px(l.p50)).toFixed(1)}" height="12" rx="2" fill="${color}"/>`)
    parts.push(`<line x1="${px(l.p90).toFixed(1)}" x2="${px(l.p90).toFixed(1)}" y1="${yy - 6}" y2="${yy + 6}" stroke="#fff" stroke-width="2"/>`)
    parts.push(text(W - R + 14, yy + 4, `${ms(l.p50)} / ${ms(l.p90)} / ${ms(l.p99)} / ${ms(l.max)}`, 'class="figures"'))
    parts.push('</g>')
  })
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" class="chart">${parts.join('')}</svg>`
}

/** Acknowledged writes per second over a failover row, the fault and the recovery marked. */
export function failoverChart(r: Row): string {
  const f = r.failover!
  const W = 860, H = 260, L = 62, R = 16, T = 22, B = 44
  const perSecond = f.timeline.map((n) => (n * 1000) / f.bucketMs)
  const seconds = (f.timeline.length * f.bucketMs) / 1000
  const yTop = niceCeil(Math.max(1, ...perSecond) * 1.1)
  const px = (s: number) => L + (s / seconds) * (W - L - R)
  const py = (v: number) => H - B - (v / yTop) * (H - B - T)
  const parts: string[] = []
  for (let i = 0; i <= 5; i++) {
    const v = (yTop * i) / 5
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${py(v).toFixed(1)}" y2="${py(v).toFixed(1)}" class="grid"/>`)
    parts.push(text(L - 8, py(v) + 4, shortCount(v), 'text-anchor="end" class="tick"'))
  }
  for (let s = 0; s <= seconds; s++) parts.push(text(px(s), H - B + 16, `${s} s`, 'text-anchor="middle" class="tick"'))
  const d = perSecond.map((v, i) => `${i === 0 ? 'M' : 'L'}${px((i * f.bucketMs) / 1000).toFixed(1)},${py(v).toFixed(1)} L${px(((i + 1) * f.bucketMs) / 1000).toFixed(1)},${py(v).toFixed(1)}`).join(' ')
  const color = colorOf(r.system.id)
  parts.push(`<path d="${d} L${px(seconds).toFixed(1)},${py(0)} L${px(0)},${py(0)} Z" fill="${color}" fill-opacity="0.18" stroke="none"/>`)
  parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8" data-row="${esc(r.id)}"/>`)
  const target = 0.9 * f.preFaultOpsPerSecond
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${py(target).toFixed(1)}" y2="${py(target).toFixed(1)}" stroke="#555" stroke-dasharray="3 4"/>`)
  parts.push(text(W - R - 4, py(target) - 5, `90 % of before (${thousands(target)} ops/s)`, 'text-anchor="end" class="tick halo"'))
  parts.push(`<line x1="${px(f.faultAtSeconds).toFixed(1)}" x2="${px(f.faultAtSeconds).toFixed(1)}" y1="${T - 6}" y2="${H - B}" stroke="#c0392b" stroke-width="2"/>`)
  parts.push(text(px(f.faultAtSeconds) + 6, T + 4, `${f.fault === 'sigkill' ? 'leader SIGKILLed' : 'leader cut off (iptables)'}`, 'class="mark halo"'))
  if (f.recoverySeconds !== null) {
    const at = f.faultAtSeconds + f.recoverySeconds
    parts.push(`<line x1="${px(at).toFixed(1)}" x2="${px(at).toFixed(1)}" y1="${T + 10}" y2="${H - B}" stroke="#1e8449" stroke-width="2" stroke-dasharray="5 3"/>`)
    parts.push(text(px(at) + 6, T + 20, `back to ≥90 % after ${f.recoverySeconds.toFixed(2)} s`, 'class="mark ok halo"'))
  }
  parts.push(text((L + W - R) / 2, H - 8, 'time into the measured window', 'text-anchor="middle" class="axis"'))
  parts.push(text(14, (T + H - B) / 2, 'acknowledged writes/s', `text-anchor="middle" class="axis" transform="rotate(-90 14 ${(T + H - B) / 2})"`))
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" class="chart">${parts.join('')}</svg>`
}

/** ops/s per number of groups (solid) and the one-core-per-replica projection (outlined), per protocol. */
export function scalingChart(rows: readonly Row[]): string {
  const W = 560, H = 300, L = 62, R = 16, T = 14, B = 44
  const sorted = [...rows].sort((a, b) => (a.system.protocol ?? '').localeCompare(b.system.protocol ?? '') || (a.system.groups ?? 1) - (b.system.groups ?? 1))
  const top = niceCeil(Math.max(1, ...sorted.map((r) => Math.max(r.opsPerSecond, r.projectedOpsPerSecondOneCorePerReplica ?? 0))) * 1.05)
  const slot = (W - L - R) / Math.max(1, sorted.length)
  const py = (v: number) => H - B - (v / top) * (H - B - T)
  const parts: string[] = []
  for (let i = 0; i <= 5; i++) {
    const v = (top * i) / 5
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${py(v).toFixed(1)}" y2="${py(v).toFixed(1)}" class="grid"/>`)
    parts.push(text(L - 8, py(v) + 4, shortCount(v), 'text-anchor="end" class="tick"'))
  }
  sorted.forEach((r, i) => {
    const x = L + i * slot + slot * 0.2
    const w = slot * 0.6
    const color = colorOf(r.system.id)
    const proj = r.projectedOpsPerSecondOneCorePerReplica
    parts.push(`<g data-row="${esc(r.id)}"><title>${esc(`${r.system.label}: ${thousands(r.opsPerSecond)} ops/s${proj === null ? '' : `; ${thousands(proj)} at one core per replica`}`)}</title>`)
    if (proj !== null) parts.push(`<rect x="${x.toFixed(1)}" y="${py(proj).toFixed(1)}" width="${w.toFixed(1)}" height="${(py(0) - py(proj)).toFixed(1)}" fill="none" stroke="${color}" stroke-width="1.5" stroke-dasharray="4 3"/>`)
    parts.push(`<rect x="${x.toFixed(1)}" y="${py(r.opsPerSecond).toFixed(1)}" width="${w.toFixed(1)}" height="${(py(0) - py(r.opsPerSecond)).toFixed(1)}" fill="${color}"/>`)
    parts.push(text(x + w / 2, py(r.opsPerSecond) - 4, shortCount(r.opsPerSecond), 'text-anchor="middle" class="tick halo"'))
    if (proj !== null) parts.push(text(x + w / 2, py(proj) - 4, shortCount(proj), 'text-anchor="middle" class="tick"'))
    parts.push(text(x + w / 2, H - B + 16, `${r.system.protocol ?? ''} ×${r.system.groups ?? 1}`, 'text-anchor="middle" class="tick"'))
    parts.push('</g>')
  })
  parts.push(text((L + W - R) / 2, H - 8, `protocol × shard groups (${sorted[0]?.scenario ?? ''}, ${sorted[0] === undefined ? '' : bytes(sorted[0].valueBytes)}, c=${sorted[0]?.concurrency ?? ''})`, 'text-anchor="middle" class="axis"'))
  parts.push(text(14, (T + H - B) / 2, 'ops/s', `text-anchor="middle" class="axis" transform="rotate(-90 14 ${(T + H - B) / 2})"`))
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" class="chart">${parts.join('')}</svg>`
}
