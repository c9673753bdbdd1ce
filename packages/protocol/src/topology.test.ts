import { describe, expect, it } from 'vitest'
import { initialShardMap, layoutCluster, parseClusterSpec } from './cluster-spec.js'
import { clusterTopology, isDiscoverRequest, parseClusterTopology, topologyGroups } from './topology.js'

const spec = (over: Partial<Parameters<typeof layoutCluster>[0]> = {}) =>
  layoutCluster({ clusterId: 'kv-t', token: 'client-secret', peerToken: 'peer-secret-0123456789', f: 1, groups: 2, protocol: 'raft', basePort: 7000, host: '127.0.0.1', controller: true, ...over })

describe('cluster topology', () => {
  it('lists the controller and every shard group with ids and advertised addresses, and no secret', () => {
    const base = spec({ listenAll: true })
    const withTls = parseClusterSpec({ ...base, initialGroups: ['g1'], tls: { caFile: '/etc/kv/ca.crt', certFile: '/etc/kv/{host}.crt', keyFile: '/etc/kv/{host}.key', requireClientCert: true, clientCertFile: '/c.crt', clientKeyFile: '/c.key' } })
    const t = clusterTopology(withTls)
    expect(t).toMatchObject({ type: 'topology', clusterId: 'kv-t', tls: true, requireClientCert: true, vnodesPerGroup: 128, initialGroups: ['g1'] })
    expect(topologyGroups(t).map((g) => g.id)).toEqual(['ctl', 'g1', 'g2'])
    expect(t.groups[1]?.replicas[2]).toEqual({ id: 'g2-r3', host: '127.0.0.1', port: 7008 })
    const text = JSON.stringify(t)
    for (const secret of ['client-secret', 'peer-secret', 'token', '.crt', '.key', 'listen', '0.0.0.0']) expect(text).not.toContain(secret)
  })

  it('says TLS is off for a spec without a tls section, and starts the same shard map as the spec', () => {
    const s = spec({ controller: false })
    const t = clusterTopology(s)
    expect(t).toMatchObject({ tls: false, requireClientCert: false, controller: null })
    expect(t.initialGroups).toBeUndefined()
    expect(initialShardMap(t)).toEqual(initialShardMap(s))
  })

  it('parses its own answer back, dropping fields it does not know (the transport id)', () => {
    const t = clusterTopology(spec())
    const parsed = parseClusterTopology({ ...t, id: 7, future: 'x' })
    expect(parsed).toEqual({ ok: true, topology: t })
  })

  it.each([
    ['an answer of another type', { type: 'status' }, /type/],
    ['a replica without a port', { groups: [{ id: 'g1', protocol: 'raft', replicas: [{ id: 'r', host: 'h' }] }] }, /port/],
    ['a group twice', { groups: [{ id: 'ctl', protocol: 'raft', replicas: [{ id: 'r', host: 'h', port: 1 }] }] }, /duplicate group id ctl/],
    ['an initial group that is not a group', { initialGroups: ['g9'] }, /no shard group g9/],
  ])('refuses %s, saying why', (_name, change, reason) => {
    const parsed = parseClusterTopology({ ...clusterTopology(spec()), ...change })
    expect(parsed.ok).toBe(false)
    if (!parsed.ok) expect(parsed.reason).toMatch(reason)
  })

  it('recognises a discover request by its type only', () => {
    expect(isDiscoverRequest({ type: 'discover' })).toBe(true)
    expect(isDiscoverRequest({ type: 'status' })).toBe(false)
    expect(isDiscoverRequest(null)).toBe(false)
  })
})
