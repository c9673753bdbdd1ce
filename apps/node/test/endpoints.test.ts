/**
 * `kv --endpoints ... --token ...` and `KV_ENDPOINTS` / `KV_TOKEN`: client commands with no
 * cluster.json, the topology asked of any replica (the controller's too). One small sharded
 * cluster (a controller and two shard groups of one replica each, f = 0: three processes) and
 * one TLS replica (the test certificates of test-fixtures/tls), so the file stays fast; ports
 * 24100–24102 and 24110, and 24150+ where nothing listens.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateConfig } from '../src/config.js'
import { printLogsOnFailure, ProcessCluster, repoRoot, runKv, type KvRun } from './harness.js'

let cluster: ProcessCluster | null = null
const c = () => cluster!
let tlsCluster: ProcessCluster | null = null
let scratch = ''
printLogsOnFailure(() => cluster)
printLogsOnFailure(() => tlsCluster)

const fixtures = path.join(repoRoot, 'test-fixtures/tls')

/** Ports nothing listens on. */
const dead = (n: number) => `127.0.0.1:${24150 + n}`

beforeAll(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'kv-ptest-endpoints-'))
  cluster = ProcessCluster.start({ name: 'endpoints', basePort: 24100, f: 0, groups: 2 })
  tlsCluster = ProcessCluster.start({
    name: 'endpoints-tls', basePort: 24110, f: 0,
    configure: (config) => ({ ...config, tls: { caFile: path.join(fixtures, 'ca.crt'), certFile: path.join(fixtures, 'replica.crt'), keyFile: path.join(fixtures, 'replica.key'), requireClientCert: false } }),
  })
  await Promise.all([...['ctl', 'g1', 'g2'].map((group) => c().waitForLeader({ group })), tlsCluster.waitForLeader()])
}, 60_000)
afterAll(async () => {
  await cluster?.stop()
  await tlsCluster?.stop()
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true })
})

const show = (r: KvRun) => `exit ${r.code} (${r.signal ?? 'no signal'})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`
const token = () => c().config.token
const kv = (args: string[], env: Record<string, string> = {}) => runKv(args, 20_000, { env })

describe.concurrent('kv --endpoints', () => {
  it('put and get with only --endpoints (the controller\'s replica) and --token; status and shard list too', async () => {
    const endpoints = ['--endpoints', c().address('ctl-r1'), '--token', token()]
    const put = await kv([...endpoints, 'put', 'ep-k', 'v1'])
    expect(put.code, show(put)).toBe(0)
    expect(put.stdout.trim()).toBe('OK')
    const get = await kv([...endpoints, '--json', 'get', 'ep-k'])
    expect(get.code, show(get)).toBe(0)
    expect(JSON.parse(get.stdout)).toEqual({ key: 'ep-k', found: true, value: 'v1' })
    const status = await kv([...endpoints, '--json', 'status'])
    expect(status.code, show(status)).toBe(0)
    expect((JSON.parse(status.stdout) as Array<{ replica: string }>).map((r) => r.replica).sort()).toEqual([...c().ids].sort())
    const shards = await kv([...endpoints, '--json', 'shard', 'list'])
    expect(shards.code, show(shards)).toBe(0)
    expect((JSON.parse(shards.stdout) as { groups: Array<{ group: string }> }).groups.map((g) => g.group)).toEqual(['g1', 'g2'])
  })

  it('KV_ENDPOINTS and KV_TOKEN stand for the flags; a dead endpoint first is skipped', async () => {
    const put = await kv(['put', 'ep-env', 'from-env'], { KV_ENDPOINTS: `${dead(0)},${c().address('g2-r1')}`, KV_TOKEN: token() })
    expect(put.code, show(put)).toBe(0)
    const get = await kv(['get', 'ep-env'], { KV_ENDPOINTS: c().address('g1-r1'), KV_TOKEN: token() })
    expect(get.code, show(get)).toBe(0)
    expect(get.stdout.trim()).toBe('from-env')
  })

  it('a wrong token is refused in one line, exit 3, as with --config', async () => {
    const r = await kv(['--endpoints', c().address('g1-r1'), '--token', 'not-the-token', 'get', 'ep-k'])
    expect(r.code, show(r)).toBe(3)
    expect(r.stderr.trim()).toBe(`kv: UNAVAILABLE: ${c().address('g1-r1')} refused this client: connection refused by the listener: wrong token`)
  })

  it('no endpoint reachable: exit 3, one line naming each endpoint and why', async () => {
    const r = await kv(['--endpoints', `${dead(1)},${dead(2)}`, '--token', token(), 'get', 'ep-k'])
    expect(r.code, show(r)).toBe(3)
    expect(r.stderr.trim()).toBe(`kv: UNAVAILABLE: no endpoint answered: ${dead(1)} (ECONNREFUSED), ${dead(2)} (ECONNREFUSED)`)
  })

  it('precedence: --endpoints over KV_ENDPOINTS over --config over KV_CONFIG; --token over KV_TOKEN', async () => {
    await kv(['--endpoints', c().address('g1-r1'), '--token', token(), 'put', 'ep-p', 'here'])
    // A config of another cluster, on ports where nothing listens.
    const other = path.join(scratch, 'other.json')
    writeFileSync(other, JSON.stringify(generateConfig({ f: 0, groups: 1, protocol: 'raft', basePort: 24160, host: '127.0.0.1' })))
    const cases: Array<[string, string[], Record<string, string>]> = [
      ['--endpoints over --config', ['--config', other, '--endpoints', c().address('g1-r1'), '--token', token()], {}],
      ['--endpoints over KV_ENDPOINTS, --token over KV_TOKEN', ['--endpoints', c().address('g2-r1'), '--token', token()], { KV_ENDPOINTS: dead(3), KV_TOKEN: 'wrong' }],
      ['KV_ENDPOINTS over --config', ['--config', other], { KV_ENDPOINTS: c().address('ctl-r1'), KV_TOKEN: token() }],
      ['--config over KV_CONFIG', ['--config', c().configPath], { KV_CONFIG: other }],
    ]
    for (const [what, args, env] of cases) {
      const r = await kv([...args, '--timeout', '3000', 'get', 'ep-p'], env)
      expect(r.code, `${what}: ${show(r)}`).toBe(0)
      expect(r.stdout.trim(), what).toBe('here')
    }
  })

  it('TLS: --cacert (or KV_CACERT) is the cluster CA; without it, one line saying so, exit 3', async () => {
    const t = tlsCluster!
    const endpoints = ['--endpoints', t.address('g1-r1'), '--token', t.config.token]
    const put = await kv([...endpoints, '--cacert', path.join(fixtures, 'ca.crt'), 'put', 'ep-tls', 'sealed'])
    expect(put.code, show(put)).toBe(0)
    const get = await kv([...endpoints, 'get', 'ep-tls'], { KV_CACERT: path.join(fixtures, 'ca.crt') })
    expect(get.code, show(get)).toBe(0)
    expect(get.stdout.trim()).toBe('sealed')
    const plain = await kv([...endpoints, 'get', 'ep-tls'])
    expect(plain.code, show(plain)).toBe(3)
    expect(plain.stderr.trim().split('\n'), show(plain)).toHaveLength(1)
    expect(plain.stderr).toMatch(/^kv: UNAVAILABLE: no endpoint answered: .*; a TLS cluster needs --cacert <ca\.crt> \(or KV_CACERT\)$/m)
  })

  it('usage errors exit 2 in one line: no cluster named, a malformed list, endpoints without a token', async () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['get', 'a'], {}, /--endpoints <host:port,\.\.\.> with --token <token> \(or KV_ENDPOINTS with KV_TOKEN\), or --config <cluster\.json> \(or KV_CONFIG\) is required/],
      [['--endpoints', '127.0.0.1', '--token', 't', 'get', 'a'], {}, /--endpoints: "127\.0\.0\.1" is not host:port/],
      [['get', 'a'], { KV_ENDPOINTS: 'a:1,,b:2', KV_TOKEN: 't' }, /--endpoints "a:1,,b:2": an empty item/],
      [['--endpoints', c().address('g1-r1'), 'get', 'a'], {}, /--endpoints needs --token <token> \(or KV_TOKEN\)/],
      [['--endpoints', c().address('g1-r1'), '--token', 't', '--cert', 'c.pem', 'get', 'a'], {}, /--cert and --key go together/],
    ]
    for (const [args, env, message] of cases) {
      const r = await kv(args, env)
      expect(r.code, show(r)).toBe(2)
      expect(r.stderr, show(r)).toMatch(message)
      expect(r.stderr.trim().split('\n'), show(r)).toHaveLength(1)
    }
  })
})
