import { describe, expect, it } from 'vitest'
import { etcdInfo, failoverRow, gatewayInfo, paxosInfo, raftInfo, redisInfo, result, row } from './fixtures.js'
import { renderHtml } from './html.js'
import { kvSystemInfo } from './systems/kv.js'
import { withRatios } from './stats.js'
import type { Row } from './result.js'

function rows(): Row[] {
  const out: Row[] = []
  for (const scenario of ['write', 'read', 'ycsb-a'] as const) {
    for (const concurrency of [64, 256]) {
      for (const [info, ops] of [[raftInfo, 12_000], [paxosInfo, 11_000], [etcdInfo, 4_000], [redisInfo, 60_000]] as const) {
        out.push(row(info, { scenario, concurrency, opsPerSecond: ops + concurrency, p99: 10 + concurrency / 10 }))
      }
    }
  }
  out.push(row(gatewayInfo, { opsPerSecond: 3_000 }))
  out.push(row(kvSystemInfo('raft', 2), { concurrency: 256, opsPerSecond: 15_000 }))
  out.push(row(kvSystemInfo('raft', 4), { concurrency: 256, opsPerSecond: 17_000 }))
  out.push(failoverRow())
  return withRatios(out)
}

/** The `<svg>...</svg>` blocks of the page. */
const svgs = (html: string): string[] => html.match(/<svg[\s\S]*?<\/svg>/g) ?? []

describe('the HTML report', () => {
  const all = rows()
  const html = renderHtml(result(all))

  it('draws every row in a chart (a mark with its data-row id inside an <svg>)', () => {
    const charts = svgs(html).join('\n')
    for (const r of all) expect(charts, r.id).toContain(`data-row="${r.id}"`)
  })

  it('has a throughput chart per scenario and value size, a latency chart for each, a failover timeline and the scaling chart', () => {
    const figures = html.match(/<figure>/g) ?? []
    // 3 throughput + 3 latency + 1 failover + 1 scaling (write at c=256).
    expect(figures).toHaveLength(8)
    expect(html).toContain('Throughput against concurrency')
    expect(html).toContain('leader SIGKILLed')
    expect(html).toContain('Shard groups')
    expect(html).toContain('etcd (v3 JSON gateway)')
  })

  it('is self-contained: no script, no stylesheet or image from elsewhere', () => {
    expect(html).not.toMatch(/<script/i)
    expect(html).not.toMatch(/<link/i)
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i)
    expect(html).not.toMatch(/url\(/i)
  })

  it('lists every row in the table, with its ratios', () => {
    const tableRows = html.match(/<tr[^>]*data-row="[^"]+"/g) ?? []
    expect(tableRows).toHaveLength(all.length)
    expect(html).toContain('<td>2.97×</td>') // kv Raft write c=64: 12,064 ÷ 4,064 (etcd)
  })

  it('escapes what it prints', () => {
    const r = row({ ...raftInfo, label: 'kv <Raft> & "co"' }, { opsPerSecond: 1 })
    const page = renderHtml(result([r]))
    expect(page).toContain('kv &lt;Raft&gt; &amp; &quot;co&quot;')
    expect(page).not.toContain('<Raft>')
  })
})
