import { describe, expect, it } from 'vitest'
import { ConfigError, findReplica, generateConfig, parseConfig } from './config.js'

describe('cluster config', () => {
  it('generates 2f+1 replicas per group on consecutive ports, a controller first when there are several groups', () => {
    const c = generateConfig({ f: 1, groups: 2, protocol: 'paxos', basePort: 7000, host: '127.0.0.1' })
    expect(c.controller?.replicas.map((r) => r.port)).toEqual([7000, 7001, 7002])
    expect(c.groups).toHaveLength(2)
    expect(c.groups[1]!.replicas.map((r) => r.port)).toEqual([7006, 7007, 7008])
    expect(c.groups[0]!.protocol).toBe('paxos')
    expect(findReplica(c, 'g2-r1').group.id).toBe('g2')
    expect(findReplica(c, 'ctl-r3').group.id).toBe('ctl')
    expect(c.initialGroups).toBeUndefined()
  })

  it('lays out spare groups outside the first map, and no controller when told so', () => {
    const c = generateConfig({ f: 1, groups: 2, spare: 1, protocol: 'raft', basePort: 7000, host: '127.0.0.1' })
    expect(c.groups.map((g) => g.id)).toEqual(['g1', 'g2', 'g3'])
    expect(c.initialGroups).toEqual(['g1', 'g2'])
    const fixed = generateConfig({ f: 1, groups: 2, controller: false, protocol: 'raft', basePort: 7000, host: '127.0.0.1' })
    expect(fixed.controller).toBeUndefined()
    expect(fixed.groups[1]!.replicas[0]!.port).toBe(7003)
    expect(() => generateConfig({ f: 1, groups: 1, spare: 1, controller: false, protocol: 'raft', basePort: 7000, host: '127.0.0.1' })).toThrow(/controller/)
  })

  it('names the bad field when a config is invalid', () => {
    const c = generateConfig({ f: 1, groups: 1, protocol: 'raft', basePort: 7000, host: '127.0.0.1' })
    const bad = JSON.parse(JSON.stringify(c)) as { groups: Array<{ replicas: Array<{ port: unknown }> }> }
    bad.groups[0]!.replicas[1]!.port = 'seven'
    expect(() => parseConfig(bad)).toThrow(/groups\[0\]\.replicas\[1\]\.port/)
  })

  it('refuses duplicate addresses, a bad protocol and an unknown replica id', () => {
    const c = generateConfig({ f: 1, groups: 1, protocol: 'raft', basePort: 7000, host: '127.0.0.1' })
    const dup = { ...c, groups: [{ ...c.groups[0]!, replicas: [c.groups[0]!.replicas[0]!, { ...c.groups[0]!.replicas[0]!, id: 'x' }] }] }
    expect(() => parseConfig(dup)).toThrow(/duplicate address/)
    expect(() => parseConfig({ ...c, groups: [{ ...c.groups[0]!, protocol: 'zab' }] })).toThrow(/protocol/)
    expect(() => findReplica(c, 'nope')).toThrow(ConfigError)
  })
})
