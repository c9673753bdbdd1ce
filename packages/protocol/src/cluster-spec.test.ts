import { describe, expect, it } from 'vitest'
import { allGroups, ClusterSpecError, groupOfReplica, layoutCluster, listenAddress, parseClusterSpec } from './cluster-spec.js'
import { mapTlsPaths, tlsPathFor } from './tls-spec.js'

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

describe('cluster spec: hosts, listen addresses, peer token, tls', () => {
  const oldConfig = {
    clusterId: 'kv-old', token: 'secret',
    groups: [{ id: 'g1', protocol: 'raft', replicas: [{ id: 'g1-r1', host: '127.0.0.1', port: 7001 }, { id: 'g1-r2', host: '127.0.0.1', port: 7002 }, { id: 'g1-r3', host: '127.0.0.1', port: 7003 }] }],
  }

  it('keeps a config written before listen, peerToken and tls valid (no peer token, no TLS, bind = advertised)', () => {
    const spec = parseClusterSpec(oldConfig)
    expect(spec.peerToken).toBeUndefined()
    expect(spec.tls).toBeUndefined()
    expect(listenAddress(spec.groups[0]!.replicas[0]!)).toEqual({ host: '127.0.0.1', port: 7001 })
  })

  it('lays out one replica of every group per host, each group on one port everywhere, listening on 0.0.0.0 when asked', () => {
    const spec = layout({ hosts: ['h1', 'h2', '10.0.0.3'], basePort: 7001, listenAll: true, peerToken: 'p'.repeat(32), groups: 2 })
    expect(spec.controller?.replicas.map((r) => `${r.host}:${r.port}`)).toEqual(['h1:7001', 'h2:7001', '10.0.0.3:7001'])
    expect(spec.groups[1]?.replicas.map((r) => [r.host, r.port, r.listen])).toEqual([['h1', 7003, '0.0.0.0:7003'], ['h2', 7003, '0.0.0.0:7003'], ['10.0.0.3', 7003, '0.0.0.0:7003']])
    expect(spec.peerToken).toBe('p'.repeat(32))
  })

  it.each([
    [['h1', 'h2'], /2 host\(s\) given; a group of 3 replicas/],
    [['h1', 'h2', 'h1'], /h1 is listed twice/],
    [['h1', 'h 2', 'h3'], /is not a host name/],
  ])('refuses --hosts %j with a clear reason', (hosts, reason) => {
    expect(() => layout({ hosts })).toThrow(reason)
  })

  it('reads listen as "host:port" or {host, port}, and refuses anything else naming the field', () => {
    const withListen = (listen: unknown) => ({ ...oldConfig, groups: [{ ...oldConfig.groups[0]!, replicas: [{ ...oldConfig.groups[0]!.replicas[0]!, listen }, ...oldConfig.groups[0]!.replicas.slice(1)] }] })
    expect(listenAddress(parseClusterSpec(withListen('0.0.0.0:9000')).groups[0]!.replicas[0]!)).toEqual({ host: '0.0.0.0', port: 9000 })
    expect(listenAddress(parseClusterSpec(withListen('[::]:9000')).groups[0]!.replicas[0]!)).toEqual({ host: '::', port: 9000 })
    expect(listenAddress(parseClusterSpec(withListen({ host: '10.1.1.1', port: 9001 })).groups[0]!.replicas[0]!)).toEqual({ host: '10.1.1.1', port: 9001 })
    expect(() => parseClusterSpec(withListen('0.0.0.0'), 't.json')).toThrow(/groups\[0\]\.replicas\[0\]\.listen: .*host:port/)
    expect(() => parseClusterSpec(withListen('0.0.0.0:70000'), 't.json')).toThrow(/listen/)
    expect(() => parseClusterSpec(withListen({ host: 'x', port: 1, extra: 1 }), 't.json')).toThrow(/listen/)
    // Two replicas of one machine cannot both bind 0.0.0.0:7002 (the second advertises 7002).
    expect(() => parseClusterSpec(withListen('0.0.0.0:7002'), 't.json')).toThrow(/replicas\[1\]\.listen: listen address 127\.0\.0\.1:7002 clashes with another replica on host 127\.0\.0\.1/)
  })

  it('refuses a peer token equal to the client token, or too short', () => {
    expect(() => parseClusterSpec({ ...oldConfig, token: 'x'.repeat(20), peerToken: 'x'.repeat(20) })).toThrow(/peerToken: peerToken must differ from token/)
    expect(() => parseClusterSpec({ ...oldConfig, peerToken: 'short' })).toThrow(/peerToken: .*16/)
  })

  it('reads a tls section with defaults, and refuses half a key pair, unknown fields and client certs required but missing', () => {
    const spec = parseClusterSpec({ ...oldConfig, tls: { caFile: 'tls/ca.crt', certFile: 'tls/{host}.crt', keyFile: 'tls/{host}.key' } })
    expect(spec.tls).toEqual({ caFile: 'tls/ca.crt', certFile: 'tls/{host}.crt', keyFile: 'tls/{host}.key', requireClientCert: false })
    expect(tlsPathFor(spec.tls!.certFile!, { id: 'g1-r1', host: 'h1' })).toBe('tls/h1.crt')
    expect(mapTlsPaths(spec.tls!, (p) => `/etc/kv/${p}`).keyFile).toBe('/etc/kv/tls/{host}.key')
    expect(() => parseClusterSpec({ ...oldConfig, tls: { caFile: 'ca', certFile: 'c' } })).toThrow(/tls\.keyFile: certFile and keyFile go together/)
    expect(() => parseClusterSpec({ ...oldConfig, tls: { caFile: 'ca', cafile: 'x' } })).toThrow(/tls: .*cafile/i)
    expect(() => parseClusterSpec({ ...oldConfig, tls: { caFile: 'ca', requireClientCert: true } })).toThrow(/tls\.clientCertFile: requireClientCert needs/)
    expect(() => parseClusterSpec({ ...oldConfig, tls: {} })).toThrow(/tls\.caFile/)
  })
})
