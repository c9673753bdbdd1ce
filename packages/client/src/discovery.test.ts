import { readFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { KvClient } from './client.js'
import { discoverCluster } from './discovery.js'
import { ConfigError, UnavailableError } from './errors.js'
import { CLUSTER_ID, FakeCluster, TOKEN } from './testing/fake-cluster.js'
import { deadPort, fastLimits } from './testing/helpers.js'

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function fake(tls?: Parameters<typeof FakeCluster.start>[1]): Promise<FakeCluster> {
  const cluster = await FakeCluster.start(3, tls)
  cleanup.push(() => cluster.close())
  return cluster
}

async function connect(options: Parameters<typeof KvClient.connect>[0]): Promise<KvClient> {
  const client = await KvClient.connect(options)
  cleanup.push(() => client.close())
  return client
}

/** Accepts connections and never says a word (a hung process). */
async function mutePort(): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => void sockets.add(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanup.push(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy()
    server.close(() => resolve())
  }))
  return (server.address() as { port: number }).port
}

describe('KvClient.connect', () => {
  it('learns the topology from one replica and then works like a client of the cluster.json', async () => {
    const cluster = await fake()
    const kv = await connect({ endpoints: [cluster.endpoint('r2')], token: TOKEN, limits: fastLimits })
    expect(cluster.discoveries).toEqual(['r2'])
    await kv.put('k', 'v')
    expect(await kv.getString('k')).toBe('v')
    // Routed by the topology: the leader r1 took the write, though only r2 was given.
    expect(cluster.seen.find((s) => s.request.op.op === 'put')?.replica).toBe('r1')
  })

  it('tries the endpoints in order, past a dead, a mute and a pre-discovery replica', async () => {
    const cluster = await fake()
    cluster.withoutDiscovery.add('r1')
    const dead = `127.0.0.1:${await deadPort()}`
    const mute = `127.0.0.1:${await mutePort()}`
    const topology = await discoverCluster({ endpoints: [dead, mute, cluster.endpoint('r1'), cluster.endpoint('r3')], token: TOKEN, limits: { ...fastLimits, maxAttemptTimeoutMs: 200, connectTimeoutMs: 200 } })
    expect(topology).toMatchObject({ type: 'topology', clusterId: CLUSTER_ID, tls: false, controller: null })
    expect(topology.groups[0]?.replicas.map((r) => r.id)).toEqual(['r1', 'r2', 'r3'])
    expect(cluster.discoveries).toEqual(['r1', 'r3'])
  })

  it('names every endpoint and why when none answers, after a bounded number of rounds', async () => {
    const dead = `127.0.0.1:${await deadPort()}`
    const mute = `127.0.0.1:${await mutePort()}`
    const started = performance.now()
    const err: unknown = await discoverCluster({ endpoints: [dead, mute], token: TOKEN, limits: { ...fastLimits, maxAttemptTimeoutMs: 100, connectTimeoutMs: 100, maxDiscoveryRounds: 2 }, timeoutMs: 5_000 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toBe(`no endpoint answered: ${dead} (ECONNREFUSED), ${mute} (timeout)`)
    // Two rounds of one 100 ms wait each, not the 5 s deadline.
    expect(performance.now() - started).toBeLessThan(2_000)
  })

  it('fails at once on a wrong token, as a call does, without trying the other endpoints', async () => {
    const cluster = await fake()
    const err: unknown = await discoverCluster({ endpoints: cluster.endpoints(), token: 'guess', limits: fastLimits }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toBe(`${cluster.endpoint('r1')} refused this client: connection refused by the listener: wrong token`)
    expect(cluster.discoveries).toEqual([])
  })

  it('refuses a cluster with another id when one is asked for', async () => {
    const cluster = await fake()
    await expect(discoverCluster({ endpoints: [cluster.endpoint('r1')], token: TOKEN, clusterId: 'other', limits: fastLimits })).rejects.toThrow(/refused this client: .*wrong cluster id/)
    const kv = await connect({ endpoints: [cluster.endpoint('r1')], token: TOKEN, clusterId: CLUSTER_ID, limits: fastLimits })
    await kv.put('k', 'v')
  })

  it('checks its options before dialing', async () => {
    await expect(discoverCluster({ endpoints: [], token: TOKEN })).rejects.toBeInstanceOf(ConfigError)
    await expect(discoverCluster({ endpoints: ['no-port'], token: TOKEN })).rejects.toThrow(/"no-port" is not "host:port"/)
    await expect(discoverCluster({ endpoints: ['127.0.0.1:1'], token: '' })).rejects.toThrow(/token/)
    await expect(discoverCluster({ endpoints: ['127.0.0.1:1', '127.0.0.1:2'], token: TOKEN, limits: { maxDiscoveryEndpoints: 1 } })).rejects.toThrow(/more than 1 endpoints/)
  })

  it('discovers over TLS with the cluster CA, and says the cluster uses TLS', async () => {
    const fixtures = new URL('../../../test-fixtures/tls/', import.meta.url).pathname
    const pem = (name: string) => readFileSync(path.join(fixtures, name))
    const cluster = await fake({ ca: pem('ca.crt'), cert: pem('replica.crt'), key: pem('replica.key') })
    const kv = await connect({ endpoints: [cluster.endpoint('r3')], token: TOKEN, tls: { caFile: path.join(fixtures, 'ca.crt') }, limits: fastLimits })
    await kv.put('k', 'v')
    expect(await kv.getString('k')).toBe('v')
    const plain: unknown = await discoverCluster({ endpoints: [cluster.endpoint('r3')], token: TOKEN, limits: fastLimits }).catch((e: unknown) => e)
    expect(plain).toBeInstanceOf(UnavailableError)
    expect((plain as Error).message).toMatch(/^no endpoint answered: .*a replica that requires TLS does this to a plain-TCP client/)
  })
})
