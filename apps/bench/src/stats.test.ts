import { describe, expect, it } from 'vitest'
import { etcdInfo, failoverRow, gatewayInfo, paxosInfo, raftInfo, redisInfo, row } from './fixtures.js'
import { failoverMetrics, GapTracker, latencyOf, newHistogram, projectOneCorePerReplica, recordMs, withRatios } from './stats.js'

describe('latency percentiles', () => {
  it('reads p50, p90, p99, p99.9 and max off the histogram in ms, to 3 significant digits', () => {
    const h = newHistogram()
    for (let i = 1; i <= 1000; i++) recordMs(h, i / 10) // 0.1 ms .. 100 ms
    const l = latencyOf(h)!
    expect(l.p50).toBeCloseTo(50, 0)
    expect(l.p90).toBeCloseTo(90, 0)
    expect(l.p99).toBeCloseTo(99, 0)
    expect(l.p999).toBeCloseTo(99.9, 0)
    expect(l.max).toBeCloseTo(100, 0)
    expect(l.mean).toBeCloseTo(50.05, 0)
  })

  it('keeps sub-millisecond latencies apart (microsecond resolution)', () => {
    const h = newHistogram()
    for (let i = 0; i < 99; i++) recordMs(h, 0.05)
    recordMs(h, 0.4)
    const l = latencyOf(h)!
    expect(l.p50).toBeCloseTo(0.05, 3)
    expect(l.max).toBeCloseTo(0.4, 3)
  })

  it('is null when nothing completed', () => {
    expect(latencyOf(newHistogram())).toBeNull()
  })
})

describe('ratios', () => {
  const rows = withRatios([
    row(raftInfo, { opsPerSecond: 12_000 }),
    row(paxosInfo, { opsPerSecond: 9_000 }),
    row(etcdInfo, { opsPerSecond: 4_000 }),
    row(gatewayInfo, { opsPerSecond: 3_000 }),
    row(redisInfo, { opsPerSecond: 48_000 }),
    row(raftInfo, { opsPerSecond: 1_000, concurrency: 1 }),
    row(redisInfo, { opsPerSecond: 0, concurrency: 1 }),
    row(raftInfo, { opsPerSecond: 20_000, scenario: 'read' }),
    failoverRow(),
  ])
  const byId = (id: string) => rows.find((r) => r.id === id)!

  it('divides kv ops/s by each comparator\'s for the same scenario, value size and concurrency', () => {
    expect(byId('kv-raft-g1/write/100/c64').ratio).toEqual({ etcd: 3, 'etcd-gateway': 4, redis: 0.25 })
    expect(byId('kv-paxos-g1/write/100/c64').ratio).toEqual({ etcd: 2.25, 'etcd-gateway': 3, redis: 0.19 })
  })

  it('leaves a ratio out when the comparator has no such row or did nothing', () => {
    expect(byId('kv-raft-g1/read/100/c64').ratio).toEqual({})
    expect(byId('kv-raft-g1/write/100/c1').ratio).toEqual({})
  })

  it('gives comparator rows and failover rows no ratio', () => {
    expect(byId('etcd/write/100/c64').ratio).toEqual({})
    expect(byId('kv-raft-g1/write/100/c64/sigkill').ratio).toEqual({})
  })
})

describe('failover metrics', () => {
  const steady = (buckets: number, perBucket: number) => new Array<number>(buckets).fill(perBucket)

  it('measures the time from the fault until a 500 ms window runs at ≥ 90 % of the rate before', () => {
    // 100 ops per 100 ms (1,000 ops/s); nothing for 1.2 s after the fault at 3.0 s; then full speed.
    const timeline = [...steady(30, 100), ...steady(12, 0), ...steady(58, 100)]
    expect(failoverMetrics(timeline, 100, 3000)).toEqual({ preFaultOpsPerSecond: 1000, recoverySeconds: 1.2 })
  })

  it('does not call a slow crawl a recovery', () => {
    // Half speed from 4.0 s to 6.0 s, full speed from 6.0 s: the first window at ≥ 90 % is the one
    // from 5.9 s (one bucket at half speed, four at full: 450 of 500).
    const timeline = [...steady(30, 100), ...steady(10, 0), ...steady(20, 50), ...steady(40, 100)]
    expect(failoverMetrics(timeline, 100, 3000).recoverySeconds).toBe(2.9)
  })

  it('gives 0 s when the fault never dents the rate, and null when the rate never comes back', () => {
    expect(failoverMetrics(steady(100, 100), 100, 3000).recoverySeconds).toBe(0)
    expect(failoverMetrics([...steady(30, 100), ...steady(70, 10)], 100, 3000).recoverySeconds).toBeNull()
  })

  it('counts from the fault\'s own time, not its bucket\'s start', () => {
    const timeline = [...steady(30, 100), ...steady(10, 0), ...steady(60, 100)]
    expect(failoverMetrics(timeline, 100, 3050).recoverySeconds).toBe(0.95)
  })
})

describe('longest gap between acknowledgements', () => {
  it('takes the longest gap, the one from the window\'s start and the one to its end included', () => {
    const g = new GapTracker(1000)
    for (const t of [1010, 1020, 1500, 1510]) g.ack(t)
    expect(g.longestMs(1600)).toBe(480)
    expect(new GapTracker(0).longestMs(2000)).toBe(2000)
    const tail = new GapTracker(0)
    tail.ack(10)
    expect(tail.longestMs(900)).toBe(890)
  })
})

describe('one core per replica', () => {
  it('scales ops/s by the busiest replica\'s share of a core', () => {
    expect(projectOneCorePerReplica(10_000, 0.5)).toBe(20_000)
    expect(projectOneCorePerReplica(10_000, 0)).toBeNull()
  })
})
