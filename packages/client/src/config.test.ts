import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadClusterConfig, parseClusterConfig, parseEndpoint } from './config.js'
import { ConfigError } from './errors.js'

const good = {
  clusterId: 'kv-1',
  token: 'secret',
  tickMs: 50,
  groups: [{ id: 'g1', protocol: 'raft', replicas: [{ id: 'g1-r1', host: '127.0.0.1', port: 7001 }] }],
}

describe('parseClusterConfig', () => {
  it('accepts a cluster.json and fills in the defaults', () => {
    expect(parseClusterConfig(good)).toEqual({ ...good, electionTimeoutTicks: 10, heartbeatTicks: 2, vnodesPerGroup: 128 })
  })

  it.each([
    ['a missing token', { ...good, token: undefined }, /token: /],
    ['no groups', { ...good, groups: [] }, /groups: /],
    ['a bad port', { ...good, groups: [{ ...good.groups[0], replicas: [{ id: 'a', host: 'h', port: 70000 }] }] }, /groups\[0\]\.replicas\[0\]\.port/],
    ['an unknown protocol', { ...good, groups: [{ ...good.groups[0], protocol: 'zab' }] }, /groups\[0\]\.protocol/],
    [
      'a duplicate address',
      { ...good, groups: [{ ...good.groups[0], replicas: [{ id: 'a', host: 'h', port: 1 }, { id: 'b', host: 'h', port: 1 }] }] },
      /duplicate address h:1/,
    ],
    ['a non-object', 'cluster', /\(root\): /],
    ['a replica id used by two groups', { ...good, groups: [good.groups[0], { ...good.groups[0], id: 'g2', replicas: [{ id: 'g1-r1', host: 'h', port: 2 }] }] }, /groups\[1\]\.replicas\[0\]\.id: duplicate replica id g1-r1/],
    ['a group id used twice', { ...good, groups: [good.groups[0], { ...good.groups[0], replicas: [{ id: 'x', host: 'h', port: 2 }] }] }, /groups\[1\]\.id: duplicate group id g1/],
  ])('rejects %s with the field named', (_name, raw, message) => {
    expect(() => parseClusterConfig(raw)).toThrow(message)
    expect(() => parseClusterConfig(raw)).toThrow(ConfigError)
  })
})

describe('loadClusterConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kv-client-config-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('reads a file', () => {
    const path = join(dir, 'cluster.json')
    writeFileSync(path, JSON.stringify(good))
    expect(loadClusterConfig(path).clusterId).toBe('kv-1')
  })

  it('names the file when it is missing or not JSON', () => {
    expect(() => loadClusterConfig(join(dir, 'nope.json'))).toThrow(/cannot read cluster config .*nope\.json: ENOENT/)
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, '{ nope')
    expect(() => loadClusterConfig(bad)).toThrow(/bad\.json is not valid JSON/)
  })
})

describe('parseEndpoint', () => {
  it('reads host:port and [ipv6]:port', () => {
    expect(parseEndpoint('127.0.0.1:7001')).toEqual({ host: '127.0.0.1', port: 7001 })
    expect(parseEndpoint('[::1]:80')).toEqual({ host: '::1', port: 80 })
  })

  it.each(['localhost', 'h:0', 'h:99999', ':80', 'a:b:1'])('rejects %j', (text) => {
    expect(() => parseEndpoint(text)).toThrow(ConfigError)
  })
})
