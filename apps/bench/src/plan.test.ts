import { describe, expect, it } from 'vitest'
import { parseBenchArgs } from './flags.js'
import { connectionsFor, loadSecondsOf, matrix, planStages, rowsOf } from './plan.js'

describe('the plan of a run', () => {
  it('--quick: two kv clusters, one failover row, etcd (with two gateway rows) and redis, about two minutes of load', () => {
    const o = parseBenchArgs(['--quick'])
    const stages = planStages(o, { etcd: true, redis: true })
    expect(stages.map((s) => s.kind)).toEqual(['kv', 'kv', 'failover', 'etcd', 'redis'])
    expect(stages.reduce((a, s) => a + rowsOf(s), 0)).toBe(6 + 6 + 1 + 6 + 2 + 6)
    const load = stages.reduce((a, s) => a + loadSecondsOf(s, o), 0)
    expect(load).toBeGreaterThan(90)
    expect(load).toBeLessThan(130)
  })

  it('skips a comparator that is not installed', () => {
    const stages = planStages(parseBenchArgs(['--quick']), { etcd: false, redis: true })
    expect(stages.map((s) => s.kind)).toEqual(['kv', 'kv', 'failover', 'redis'])
  })

  it('runs the matrix value size first, then scenario, then concurrency', () => {
    const points = matrix({ scenarios: ['write', 'read'], valueBytes: [100, 4096], concurrency: [1, 64] })
    expect(points.map((p) => `${p.valueBytes}/${p.scenario}/${p.concurrency}`)).toEqual([
      '100/write/1', '100/write/64', '100/read/1', '100/read/64', '4096/write/1', '4096/write/64', '4096/read/1', '4096/read/64',
    ])
  })

  it('more groups: each scenario at the highest concurrency and the first value size', () => {
    const o = parseBenchArgs(['--groups', '1,2,4', '--protocol', 'raft', '--scenario', 'write,ycsb-a', '--compare', 'none'])
    const stages = planStages(o, { etcd: true, redis: true })
    expect(stages.map((s) => (s.kind === 'kv' ? `${s.groups}:${s.points.length}` : s.kind))).toEqual(['1:16', '2:2', '4:2'])
    const four = stages[2]!
    expect(four.kind === 'kv' && four.points.every((p) => p.concurrency === 256 && p.valueBytes === 100)).toBe(true)
  })

  it('gives every 16 calls in flight a connection of their own', () => {
    expect([1, 16, 17, 64, 256].map(connectionsFor)).toEqual([1, 1, 2, 4, 16])
  })
})
