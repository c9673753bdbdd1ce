import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createClient, type KvClient } from './client.js'
import { ConfigError, UnavailableError } from './errors.js'
import { FakeCluster } from './testing/fake-cluster.js'
import { fastLimits } from './testing/helpers.js'

// The test CA and certificates of scripts/tls-fixtures.ts.
const fixtures = new URL('../../../test-fixtures/tls/', import.meta.url).pathname
const file = (name: string) => path.join(fixtures, name)
const pem = (name: string) => readFileSync(file(name))
const replicaTls = { ca: pem('ca.crt'), cert: pem('replica.crt'), key: pem('replica.key') }

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function tlsCluster(requireClientCert = false): Promise<FakeCluster> {
  const cluster = await FakeCluster.start(3, { ...replicaTls, requireClientCert })
  cleanup.push(() => cluster.close())
  return cluster
}

function client(options: Parameters<typeof createClient>[0]): KvClient {
  const c = createClient(options)
  cleanup.push(() => c.close())
  return c
}

/** A cluster.json beside a tls/ folder, as `kv config certs` leaves them. */
function writeConfig(cluster: FakeCluster, tls: (dir: string) => Record<string, unknown>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kv-client-tls-'))
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
  const spec = { ...cluster.config(), tls: tls(dir) }
  writeFileSync(path.join(dir, 'cluster.json'), JSON.stringify(spec))
  return path.join(dir, 'cluster.json')
}

describe('TLS', () => {
  it('takes the CA from the config\'s tls section, relative to the config file, and works through it', async () => {
    const cluster = await tlsCluster()
    const configPath = writeConfig(cluster, (dir) => ({ caFile: path.relative(dir, file('ca.crt')) }))
    expect((JSON.parse(readFileSync(configPath, 'utf8')) as { tls: { caFile: string } }).tls.caFile).toMatch(/^\.\.\//)
    const kv = client({ config: configPath, timeoutMs: 3000, limits: fastLimits })
    await kv.put('k', 'v')
    expect(await kv.getString('k')).toBe('v')
  })

  it('takes a CA as PEM (endpoints) and presents a client certificate when the cluster requires one', async () => {
    const cluster = await tlsCluster(true)
    const kv = client({ endpoints: cluster.endpoints(), clusterId: cluster.config().clusterId, token: cluster.config().token, tls: { ca: pem('ca.crt'), certFile: file('client.crt'), keyFile: file('client.key') }, limits: fastLimits })
    await kv.put('k', 'v')
    expect(await kv.getString('k')).toBe('v')
  })

  it('fails at once, not at the deadline, when the replicas\' certificates are not from its CA', async () => {
    const cluster = await tlsCluster()
    const kv = client({ config: cluster.config(), tls: { caFile: file('other-ca.crt') }, timeoutMs: 10_000, limits: fastLimits })
    const started = Date.now()
    const err = await kv.put('k', 'v').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toMatch(/TLS_UNKNOWN_CA: .*not signed by the cluster CA/)
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('is refused with the reason when the cluster requires a client certificate and it has none', async () => {
    const cluster = await tlsCluster(true)
    const kv = client({ config: cluster.config(), tls: { caFile: file('ca.crt') }, limits: fastLimits })
    await expect(kv.put('k', 'v')).rejects.toThrow(/refused this client: .*requires a client certificate/)
  })

  it.each([
    ['a missing CA file', { caFile: file('nope.crt') }, /tls: cannot read the CA certificate .*nope\.crt: ENOENT/],
    ['no CA at all', { certFile: file('client.crt'), keyFile: file('client.key') }, /options\.tls: give the cluster CA/],
    ['a client key of another certificate', { caFile: file('ca.crt'), certFile: file('client.crt'), keyFile: file('replica.key') }, /does not belong to the certificate/],
    ['a certificate without its key', { caFile: file('ca.crt'), certFile: file('client.crt') }, /go together/],
  ])('refuses %s with a ConfigError at createClient', async (_what, tls, message) => {
    const cluster = await tlsCluster()
    expect(() => createClient({ config: cluster.config(), tls })).toThrow(ConfigError)
    expect(() => createClient({ config: cluster.config(), tls })).toThrow(message)
  })
})
