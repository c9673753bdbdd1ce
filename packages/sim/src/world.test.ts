import { layoutCluster, parseClusterSpec } from '@kv/protocol'
import { describe, expect, it } from 'vitest'
import { checkLinearizability } from './linearizability/index.js'
import { noFaults } from './nemesis.js'
import { SimWorld, singleGroupSpec } from './world.js'

describe('SimWorld', () => {
  it('runs every group of one cluster spec: Raft and Paxos groups of different sizes side by side', () => {
    const base = layoutCluster({ clusterId: 'sim', token: 'sim', f: 1, groups: 2, protocol: 'raft', basePort: 1, host: 'sim' })
    const five = layoutCluster({ clusterId: 'sim', token: 'sim', f: 2, groups: 1, protocol: 'paxos', basePort: 100, host: 'sim' }).groups[0]!
    const spec = parseClusterSpec({ ...base, groups: [base.groups[0], { ...five, id: 'g2', replicas: five.replicas.map((r, i) => ({ ...r, id: `g2-r${i + 1}` })) }] })
    const w = new SimWorld({ seed: 7, protocol: 'raft', spec, nemesis: { ...noFaults, crashes: true, intervalMs: 300 } })
    expect(w.groups.map((g) => [g.spec.id, g.spec.protocol, g.nodes.length])).toEqual([['g1', 'raft', 3], ['g2', 'paxos', 5]])
    const [g1, g2] = w.groups
    w.addClients(2, { kind: 'mixed', keys: 3, opsPerClient: 40, keyPrefix: 'a' }, g1!.nodes.map((n) => n.id))
    w.addClients(2, { kind: 'mixed', keys: 3, opsPerClient: 40, keyPrefix: 'b' }, g2!.nodes.map((n) => n.id))
    w.nemesis.start()
    w.runFor(3000)
    expect(w.quiesce()).toBe(true)
    expect(w.converge()).toBe(true)
    expect(w.leader(g1)?.id).toMatch(/^g1-r/)
    expect(w.leader(g2)?.id).toMatch(/^g2-r/)
    // Each group holds only its own clients' keys.
    const keysOf = (g: typeof g1) => [...g!.nodes[0]!.replica!.stateMachine.entries()].map(([k]) => k[0])
    expect(new Set(keysOf(g1))).toEqual(new Set(['a']))
    expect(new Set(keysOf(g2))).toEqual(new Set(['b']))
    expect(w.clients.every((c) => c.completed > 0)).toBe(true)
    expect(checkLinearizability(w.history.operations()).result).toBe('ok')
  })

  it('lays out one group of 2f+1 replicas when no spec is given, and refuses an even count', () => {
    expect(new SimWorld({ seed: 1, protocol: 'paxos', replicas: 5 }).nodes.map((n) => n.id)).toEqual(['g1-r1', 'g1-r2', 'g1-r3', 'g1-r4', 'g1-r5'])
    expect(() => singleGroupSpec('raft', 4)).toThrow(/even/)
  })
})
