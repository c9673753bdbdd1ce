import { describe, expect, it } from 'vitest'
import { etcdInfo, failoverRow, paxosInfo, raftInfo, redisInfo, result, row } from './fixtures.js'
import { withRatios } from './stats.js'
import { bytes, formatReport, ms, renderTable } from './table.js'

describe('the text report', () => {
  const report = formatReport(result(withRatios([
    row(redisInfo, { opsPerSecond: 48_000, p99: 3 }),
    row(etcdInfo, { opsPerSecond: 4_000, p99: 21 }),
    row(paxosInfo, { opsPerSecond: 9_000 }),
    row(raftInfo, { opsPerSecond: 12_000, p99: 15.6 }),
    row(raftInfo, { opsPerSecond: 30_000, scenario: 'read' }),
    failoverRow(),
  ])))
  const lines = report.split('\n')

  it('puts the systems of one load side by side, kv first, with its ratio to each comparator', () => {
    const at = (label: string) => lines.findIndex((l) => l.includes(label) && !l.includes('failover') && /\d/.test(l))
    expect(at('kv Raft')).toBeLessThan(at('kv Multi-Paxos'))
    expect(at('kv Multi-Paxos')).toBeLessThan(at('etcd 3.4'))
    expect(at('etcd 3.4')).toBeLessThan(at('redis 7.0'))
    const raft = lines[at('kv Raft')]!
    expect(raft).toMatch(/write\s+100 B\s+64\s+kv Raft\s+12,000\s+5\.20\s+10\.4\s+15\.6\s+31\.2\s+0/)
    expect(raft).toMatch(/3\.00×\s+0\.25×$/)
  })

  it('has a header with the columns a reader looks for, and a legend', () => {
    const header = lines.find((l) => l.startsWith('scenario'))!
    for (const col of ['ops/s', 'p50', 'p90', 'p99', 'max', 'err', 'CPU srv', 'busiest', 'gen', 'other', '÷etcd', '÷redis']) expect(header).toContain(col)
    expect(report).toContain('0.50 g1-r1 (leader)')
    expect(report).toMatch(/÷etcd, ÷redis: kv ops\/s divided by/)
  })

  it('reports the failover row: longest gap and time back to full throughput', () => {
    const f = lines.find((l) => l.includes('SIGKILL'))!
    expect(f).toMatch(/kv Raft\s+SIGKILL\s+g1-r1\s+g1-r2\s+10,000\s+1\.20 s\s+1\.20 s/)
  })
})

describe('formatting', () => {
  it('prints milliseconds with about three significant figures', () => {
    expect([0.04123, 4.523, 15.64, 240.4].map(ms)).toEqual(['0.041', '4.52', '15.6', '240'])
  })

  it('prints sizes in B or KiB', () => {
    expect([100, 4096, 1000].map(bytes)).toEqual(['100 B', '4 KiB', '1000 B'])
  })

  it('aligns columns: text left, figures right', () => {
    expect(renderTable(['name', 'n'], [['a', '1'], ['bbb', '100']], new Set([0]))).toEqual(['name    n', '----  ---', 'a       1', 'bbb   100'])
  })
})
