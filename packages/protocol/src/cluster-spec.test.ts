import { describe, expect, it } from 'vitest'
import { allGroups, ClusterSpecError, groupOfReplica, layoutCluster, parseClusterSpec } from './cluster-spec.js'

const layout = (over: Partial<Parameters<typeof layoutCluster>[0]> = {}) =>
  layoutCluster({ clusterId: 'kv-t', token: 't', f: 1, groups: 3, protocol: 'raft', basePort: 7000, host: '127.0.0.1', controller: true, ...over })

describe('cluster spec', () => {
  it('lays out a controller and N groups of 2f+1 replicas on consecutive ports', () => {
    const spec = layout()
    expect(allGroups(spec).map((g) => g.id)).toEqual(['ctl', 'g1', 'g2', 'g3'])
    expect(spec.controller?.replicas.map((r) => r.port)).toEqual([7000, 7001, 7002])
    expect(spec.groups[2]?.replicas.map((r) => r.id)).toEqual(['g3-r1', 'g3-r2', 'g3-r3'])
    expect(groupOfReplica(spec, 'ctl-r2')?.group.id).toBe('ctl')
    expect(groupOfReplica(spec, 'g2-r3')?.replica.port).toBe(7008)
    expect(groupOfReplica(spec, 'nope')).toBeNull()
  })

  it('gives each replica its own loopback address with spreadHosts', () => {
    const spec = layout({ spreadHosts: true, groups: 1 })
    expect(spec.groups[0]?.replicas.map((r) => r.host)).toEqual(['127.0.1.1', '127.0.1.2', '127.0.1.3'])
    expect(spec.controller?.replicas[0]?.host).toBe('127.0.250.1')
  })

  it('accepts groups of different sizes and protocols in one cluster', () => {
    const spec = layout({ f: 2 })
    const mixed = parseClusterSpec({ ...spec, groups: [{ ...spec.groups[0]!, protocol: 'paxos', replicas: spec.groups[0]!.replicas.slice(0, 3) }, spec.groups[1]!] })
    expect(mixed.groups.map((g) => [g.protocol, g.replicas.length])).toEqual([['paxos', 3], ['raft', 5]])
  })

  it.each([
    ['a controller replica id reused by a group', (s: ReturnType<typeof layout>) => ({ ...s, groups: [{ ...s.groups[0]!, replicas: [{ ...s.groups[0]!.replicas[0]!, id: 'ctl-r1' }] }] }), /groups\[0\]\.replicas\[0\]\.id: duplicate replica id ctl-r1/],
    ['a group named like the controller', (s: ReturnType<typeof layout>) => ({ ...s, groups: [{ ...s.groups[0]!, id: 'ctl' }] }), /groups\[0\]\.id: duplicate group id ctl/],
    ['a heartbeat not below the election timeout', (s: ReturnType<typeof layout>) => ({ ...s, heartbeatTicks: 10 }), /heartbeatTicks: /],
    ['a negative snapshot interval', (s: ReturnType<typeof layout>) => ({ ...s, snapshotEveryEntries: -1 }), /snapshotEveryEntries: /],
    ['a group id with a slash', (s: ReturnType<typeof layout>) => ({ ...s, groups: [{ ...s.groups[0]!, id: 'g/1' }] }), /groups\[0\]\.id: letters/],
  ])('refuses %s, naming the field', (_name, change, reason) => {
    let thrown: unknown
    try {
      parseClusterSpec(change(layout()), 'test.json')
    } catch (err) {
      thrown = err
    }
    expect(thrown).toBeInstanceOf(ClusterSpecError)
    expect((thrown as Error).message).toMatch(/^test\.json is invalid:/)
    expect((thrown as Error).message).toMatch(reason)
  })
})
