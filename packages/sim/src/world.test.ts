import { layoutCluster, parseClusterSpec, ShardRouter } from '@kv/protocol'
import { describe, expect, it } from 'vitest'
import { checkLinearizability } from './linearizability/index.js'
import { noFaults } from './nemesis.js'
import { SimWorld, singleGroupSpec } from './world.js'

describe('SimWorld', () => {
  it('runs every group of one cluster spec: Raft and Paxos groups of different sizes, keys placed by the ring', () => {
    const base = layoutCluster({ clusterId: 'sim', token: 'sim', f: 1, groups: 2, protocol: 'raft', basePort: 1, host: 'sim' })
    const five = layoutCluster({ clusterId: 'sim', token: 'sim', f: 2, groups: 1, protocol: 'paxos', basePort: 100, host: 'sim' }).groups[0]!
    const spec = parseClusterSpec({ ...base, groups: [base.groups[0], { ...five, id: 'g2', replicas: five.replicas.map((r, i) => ({ ...r, id: `g2-r${i + 1}` })) }] })
    const w = new SimWorld({ seed: 7, protocol: 'raft', spec, nemesis: { ...noFaults, crashes: true, intervalMs: 300 } })
    expect(w.groups.map((g) => [g.spec.id, g.spec.protocol, g.nodes.length])).toEqual([['g1', 'raft', 3], ['g2', 'paxos', 5]])
    w.addClients(4, { kind: 'mixed', keys: 12, opsPerClient: 40 })
    w.nemesis.start()
    w.runFor(3000)
    expect(w.quiesce()).toBe(true)
    expect(w.converge()).toBe(true)
    for (const c of w.clients) expect(c.unexpected).toEqual([])
    // Each group holds only the keys the ring gives it, and both hold some.
    const router = new ShardRouter({ epoch: 1, vnodesPerGroup: spec.vnodesPerGroup, groups: spec.groups })
    for (const g of w.shardGroups) {
      const keys = [...g.nodes[0]!.kv.entries()].map(([k]) => k)
      expect(keys.length).toBeGreaterThan(0)
      for (const k of keys) expect(router.groupOf(k).id).toBe(g.spec.id)
    }
    expect(checkLinearizability(w.history.operations()).result).toBe('ok')
  })

  it.each([1, 2])('stays linearizable with %i Ready(s) in flight per replica under crashes (the shallow pipelines)', (depth) => {
    for (const protocol of ['raft', 'paxos'] as const) {
      const w = new SimWorld({ seed: 11 + depth, protocol, maxReadysInFlight: depth, nemesis: { ...noFaults, crashes: true, crashAll: true, intervalMs: 400 } })
      w.addClients(4, { kind: 'mixed', keys: 8, opsPerClient: 60 })
      w.nemesis.start()
      w.runFor(3000)
      expect(w.quiesce(), protocol).toBe(true)
      expect(w.converge(), protocol).toBe(true)
      for (const c of w.clients) expect(c.unexpected, protocol).toEqual([])
      expect(w.nodes.reduce((n, node) => n + node.crashes, 0), protocol).toBeGreaterThan(0)
      expect(checkLinearizability(w.history.operations()).result, protocol).toBe('ok')
    }
  })

  it('lays out one group of 2f+1 replicas when no spec is given, and refuses an even count', () => {
    expect(new SimWorld({ seed: 1, protocol: 'paxos', replicas: 5 }).nodes.map((n) => n.id)).toEqual(['g1-r1', 'g1-r2', 'g1-r3', 'g1-r4', 'g1-r5'])
    expect(() => singleGroupSpec('raft', 4)).toThrow(/even/)
  })
})
