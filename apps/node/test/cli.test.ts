/**
 * The `kv` command as a user meets it: exit codes and messages of the client commands, the
 * `--json` output, bad flags, missing or invalid configs, a port already in use, and a data
 * folder that belongs to another cluster.
 */
import { HistoryRecorder } from '@kv/sim'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateConfig } from '../src/config.js'
import { expectLinearizable, printLogsOnFailure, ProcessCluster, repoRoot, runKv, runKvUntil, type KvRun } from './harness.js'

let cluster: ProcessCluster | null = null
const c = () => cluster!
let scratch = ''
printLogsOnFailure(() => cluster)

beforeAll(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'kv-ptest-cli-'))
  cluster = ProcessCluster.start({ name: 'cli', basePort: 21700 })
  await cluster.waitForLeader()
}, 120_000)
afterAll(async () => {
  await cluster?.stop()
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true })
})

const kv = (...args: string[]) => runKv(['--config', c().configPath, ...args])
const show = (r: KvRun) => `exit ${r.code} (${r.signal ?? 'no signal'})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`

/** Writes a config file of another cluster (its own id and token) into the scratch folder. */
function otherConfig(name: string, basePort: number): string {
  const file = path.join(scratch, name)
  writeFileSync(file, JSON.stringify(generateConfig({ f: 1, groups: 1, protocol: 'raft', basePort, host: '127.0.0.1' })))
  return file
}

describe.concurrent('client commands', () => {
  it('get of a missing key exits 1 and says "not found" on stderr', async () => {
    const r = await kv('get', 'cli-missing')
    expect(r.code, show(r)).toBe(1)
    expect(r.stderr.trim()).toBe('not found')
    expect(r.stdout).toBe('')
  })

  it('put, get, append, delete and batch-put print what they did, and --json output parses', async () => {
    // Each command is one process; the calls are recorded by their start and end times.
    const history = new HistoryRecorder()
    const run = async (input: Parameters<HistoryRecorder['invoke']>[1], args: string[]) => {
      const start = performance.now()
      const r = await kv(...args)
      return { r, record: (output: Parameters<HistoryRecorder['complete']>[1]) => history.complete(history.invoke(0, input, start), output, performance.now()) }
    }

    const put = await run({ op: 'put', key: 'cli-k', value: 'v1' }, ['put', 'cli-k', 'v1'])
    expect(put.r.code, show(put.r)).toBe(0)
    expect(put.r.stdout.trim()).toBe('OK')
    put.record({ type: 'ok' })

    const get = await run({ op: 'get', key: 'cli-k' }, ['--json', 'get', 'cli-k'])
    expect(get.r.code, show(get.r)).toBe(0)
    expect(JSON.parse(get.r.stdout)).toEqual({ key: 'cli-k', found: true, value: 'v1' })
    get.record({ type: 'value', value: 'v1' })

    const append = await run({ op: 'append', key: 'cli-k', value: '+2' }, ['--json', 'append', 'cli-k', '+2'])
    expect(append.r.code, show(append.r)).toBe(0)
    expect(JSON.parse(append.r.stdout)).toEqual({ ok: true })
    append.record({ type: 'ok' })

    const get2 = await run({ op: 'get', key: 'cli-k' }, ['get', 'cli-k'])
    expect(get2.r.stdout.trim()).toBe('v1+2')
    get2.record({ type: 'value', value: 'v1+2' })

    const del = await run({ op: 'delete', key: 'cli-k' }, ['--json', 'delete', 'cli-k'])
    expect(JSON.parse(del.r.stdout)).toEqual({ ok: true, existed: true })
    del.record({ type: 'deleted', existed: true })

    const del2 = await run({ op: 'delete', key: 'cli-k' }, ['delete', 'cli-k'])
    expect(del2.r.stdout.trim()).toBe('not found (nothing deleted)')
    del2.record({ type: 'deleted', existed: false })

    const missing = await run({ op: 'get', key: 'cli-k' }, ['--json', 'get', 'cli-k'])
    expect(missing.r.code, show(missing.r)).toBe(1)
    expect(JSON.parse(missing.r.stdout)).toEqual({ key: 'cli-k', found: false })
    missing.record({ type: 'value', value: null })

    const batch = await run({ op: 'batchPut', entries: [['cli-b1', '1'], ['cli-b2', '2']] }, ['--json', 'batch-put', 'cli-b1', '1', 'cli-b2', '2'])
    expect(JSON.parse(batch.r.stdout)).toEqual({ ok: true, count: 2 })
    batch.record({ type: 'ok' })
    const b2 = await run({ op: 'get', key: 'cli-b2' }, ['get', 'cli-b2'])
    expect(b2.r.stdout.trim()).toBe('2')
    b2.record({ type: 'value', value: '2' })

    expectLinearizable(history)
  })

  it('status --json lists every replica with one leader', async () => {
    const r = await kv('--json', 'status')
    expect(r.code, show(r)).toBe(0)
    const rows = JSON.parse(r.stdout) as Array<{ replica: string; role: string; error: string | null }>
    expect(rows.map((x) => x.replica).sort()).toEqual([...c().ids].sort())
    expect(rows.filter((x) => x.role === 'leader')).toHaveLength(1)
    expect(rows.every((x) => x.error === null)).toBe(true)
    const table = await kv('status')
    expect(table.stdout).toMatch(/^GROUP\s+REPLICA\s+ADDRESS\s+ROLE/)
  })

  it('batch-put with an odd number of arguments exits 2 and says how to call it', async () => {
    const r = await kv('batch-put', 'a', '1', 'b')
    expect(r.code, show(r)).toBe(2)
    expect(r.stderr).toContain('batch-put takes key/value pairs')
  })

  it('a key over the size limit exits 2 with BAD_REQUEST', async () => {
    const r = await kv('put', 'k'.repeat(1025), 'x')
    expect(r.code, show(r)).toBe(2)
    expect(r.stderr).toMatch(/^kv: BAD_REQUEST: .*key/m)
  })

  it('a client command against a cluster with no replica up exits 3 with UNAVAILABLE', async () => {
    const r = await runKv(['--config', otherConfig('down.json', 21750), '--timeout', '1500', 'get', 'a'])
    expect(r.code, show(r)).toBe(3)
    expect(r.stderr).toMatch(/^kv: UNAVAILABLE: /m)
    // With --json the error is one JSON object on stdout, exit code included.
    const json = await runKv(['--config', otherConfig('down2.json', 21755), '--timeout', '800', '--json', 'put', 'a', 'b'])
    expect(json.code, show(json)).toBe(3)
    expect(JSON.parse(json.stdout)).toMatchObject({ error: 'UNAVAILABLE', exitCode: 3 })
  })

  it('put K - takes the value from stdin, bytes as they are; get --hex and get --json show a binary value', async () => {
    const bytes = new Uint8Array([0, 0xff, 0x80, 10, 0x41])
    const put = await runKv(['--config', c().configPath, 'put', 'cli-bin', '-'], 30_000, { input: bytes })
    expect(put.code, show(put)).toBe(0)
    const hex = await kv('--hex', 'get', 'cli-bin')
    expect(hex.stdout.trim(), show(hex)).toBe('00ff800a41')
    const json = await kv('--json', 'get', 'cli-bin')
    expect(JSON.parse(json.stdout)).toEqual({ key: 'cli-bin', found: true, valueHex: '00ff800a41' })
    // A text value piped in is text again; append reads stdin too.
    await runKv(['--config', c().configPath, 'put', 'cli-text', '-'], 30_000, { input: 'line one\nline two' })
    await runKv(['--config', c().configPath, 'append', 'cli-text', '-'], 30_000, { input: '!' })
    const text = await kv('get', 'cli-text')
    expect(text.stdout).toBe('line one\nline two!\n')
  })

  it('KV_CONFIG stands for --config', async () => {
    await kv('put', 'cli-env', 'from-env')
    const r = await runKv(['get', 'cli-env'], 30_000, { env: { KV_CONFIG: c().configPath } })
    expect(r.code, show(r)).toBe(0)
    expect(r.stdout.trim()).toBe('from-env')
  })
})

describe.concurrent('bad flags and configs', () => {
  it('--version prints the package version and exits 0', async () => {
    const r = await runKv(['--version'])
    expect(r.code, show(r)).toBe(0)
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'apps/node/package.json'), 'utf8')) as { version: string }
    expect(r.stdout.trim()).toBe(version)
  })

  it('an unknown flag exits non-zero and names it', async () => {
    const r = await runKv(['--config', c().configPath, 'node', '--id', 'g1-r1', '--bogus'])
    expect(r.code, show(r)).not.toBe(0)
    expect(r.stderr).toContain("unknown option '--bogus'")
  })

  it('a bad flag value exits non-zero and says what is expected', async () => {
    const rate = await runKv(['--config', c().configPath, 'node', '--id', 'g1-r1', '--drop-rate', 'huge'])
    expect(rate.code, show(rate)).not.toBe(0)
    expect(rate.stderr).toContain('low, medium, high')
    const kinds = await runKv(['--config', c().configPath, 'node', '--id', 'g1-r1', '--drop-kinds', 'append,gossip'])
    expect(kinds.code, show(kinds)).not.toBe(0)
    expect(kinds.stderr).toContain('unknown message kind "gossip"')
    const faults = await runKv(['config', 'generate', '-f', '9', '-o', path.join(scratch, 'never.json')])
    expect(faults.code, show(faults)).not.toBe(0)
    expect(faults.stderr).toContain('expected an integer from 0 to 4')
  })

  it('a command without --config says that --config is required, in one line, exit 2', async () => {
    for (const args of [['get', 'a'], ['node', '--id', 'g1-r1']]) {
      const r = await runKv(args)
      expect(r.code, show(r)).toBe(2)
      expect(r.stderr).toContain('--config <cluster.json> (or KV_CONFIG) is required')
      expect(r.stderr.trim().split('\n'), show(r)).toHaveLength(1)
    }
  })

  it('usage errors exit 2: get without a key, a bad --protocol; no stack trace anywhere', async () => {
    const noKey = await runKv(['--config', c().configPath, 'get'])
    expect(noKey.code, show(noKey)).toBe(2)
    expect(noKey.stderr).toContain("missing required argument 'key'")
    const protocol = await runKv(['config', 'generate', '--protocol', 'zab', '-o', path.join(scratch, 'never2.json')])
    expect(protocol.code, show(protocol)).toBe(2)
    expect(protocol.stderr).toContain('expected raft or paxos')
    for (const r of [noKey, protocol]) expect(r.stderr).not.toMatch(/^\s+at /m)
  })

  it('kv cluster kill with no local cluster says so in one line and exits 3', async () => {
    const r = await runKv(['cluster', 'kill', 'g1-r1', '--dir', path.join(scratch, 'no-cluster-here')])
    expect(r.code, show(r)).toBe(3)
    expect(r.stderr.trim()).toMatch(/^kv: no local cluster running from .*no-cluster-here/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('a missing config file names the file and the problem', async () => {
    const file = path.join(scratch, 'absent.json')
    for (const args of [['get', 'a'], ['node', '--id', 'g1-r1']]) {
      const r = await runKv(['--config', file, ...args])
      expect(r.code, show(r)).toBe(2)
      expect(r.stderr).toContain(`cannot read cluster config ${file}: ENOENT`)
    }
  })

  it('an invalid config names the problem: bad JSON, or the bad field', async () => {
    const notJson = path.join(scratch, 'not-json.json')
    writeFileSync(notJson, '{ "clusterId": ')
    const r1 = await runKv(['--config', notJson, 'get', 'a'])
    expect(r1.code, show(r1)).toBe(2)
    expect(r1.stderr).toContain('is not valid JSON')

    const badPort = path.join(scratch, 'bad-port.json')
    const config = generateConfig({ f: 1, groups: 1, protocol: 'raft', basePort: 21760, host: '127.0.0.1' })
    writeFileSync(badPort, JSON.stringify({ ...config, groups: [{ ...config.groups[0], replicas: [{ id: 'g1-r1', host: '127.0.0.1', port: 70000 }] }] }))
    const r2 = await runKv(['--config', badPort, 'node', '--id', 'g1-r1'])
    expect(r2.code, show(r2)).toBe(2)
    expect(r2.stderr).toContain('groups[0].replicas[0].port')

    const r3 = await runKv(['--config', c().configPath, 'node', '--id', 'g7-r7', '--data', path.join(scratch, 'unknown-id')])
    expect(r3.code, show(r3)).toBe(2)
    expect(r3.stderr).toContain('no replica "g7-r7" in the config')
  })

  it('a port already in use gives a clear error and a non-zero exit', async () => {
    const config = otherConfig('port-in-use.json', 21770)
    const holder = net.createServer()
    await new Promise<void>((resolve, reject) => {
      holder.once('error', reject)
      holder.listen(21770, '127.0.0.1', () => resolve())
    })
    try {
      const r = await runKv(['--config', config, 'node', '--id', 'g1-r1', '--data', path.join(scratch, 'port-in-use')])
      expect(r.code, show(r)).not.toBe(0)
      expect(r.code).not.toBeNull()
      expect(r.stderr).toContain('127.0.0.1:21770 is already in use')
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()))
    }
  })

  it('a node refuses a data folder of another cluster, clearly', async () => {
    // A replica of one cluster runs once on the folder...
    const folder = path.join(scratch, 'foreign-data')
    const mine = otherConfig('owner.json', 21780)
    const owner = await runKvUntil(['--config', mine, 'node', '--id', 'g1-r1', '--data', folder], 'replica serving')
    expect(owner.stdout, show(owner)).toContain('replica serving')
    // ...and a node of another cluster is pointed at it.
    const other = otherConfig('intruder.json', 21790)
    const r = await runKv(['--config', other, 'node', '--id', 'g1-r1', '--data', folder])
    expect(r.code, show(r)).not.toBe(0)
    expect(r.stderr).toMatch(/belongs to cluster "kv-[0-9a-f]+", not "kv-[0-9a-f]+"/)
  })
})
