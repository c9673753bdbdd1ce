/**
 * Observability of a running cluster: each replica's Prometheus /metrics (scraped as
 * Prometheus would), /healthz and /readyz, and `kv status` with versions, uptimes, data sizes
 * and an exit code that says when a group has no leader.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot, runKv, startCluster, waitFor, type ProcessCluster } from './harness.js'

const basePort = 22650
const metricsPort = (c: ProcessCluster, id: string) => c.port(id) + 10

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url)
  return { status: res.status, text: await res.text() }
}

/** The value of one sample of the text format (`name{labels} value`), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const have = new Map([...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[3])
  }
  return undefined
}

describe('metrics, health and status', () => {
  it('serves /metrics with request, durable-write, leadership and transport series; /healthz; /readyz follows the group\'s leader; kv status shows versions and exits 3 without a leader', async (ctx) => {
    const c = await startCluster(ctx, {
      name: 'metrics', basePort,
      flagsById: Object.fromEntries([0, 1, 2].map((i) => [`g1-r${i + 1}`, ['--metrics-listen', `127.0.0.1:${basePort + 10 + i}`]])),
    })
    const leader = await c.waitForLeader()
    const kv = c.client()
    for (let i = 0; i < 20; i++) await kv.put(`m${i}`, `v${i}`)
    for (let i = 0; i < 5; i++) await kv.get(`m${i}`)

    const url = (id: string, p: string) => `http://127.0.0.1:${metricsPort(c, id)}${p}`
    const scrape = await get(url(leader, '/metrics'))
    expect(scrape.status).toBe(200)
    const m = scrape.text
    expect(sample(m, 'kv_requests_total', { op: 'put', result: 'ok', replica: leader, group: 'g1' })).toBeGreaterThanOrEqual(20)
    expect(sample(m, 'kv_requests_total', { op: 'get', result: 'ok' })).toBeGreaterThanOrEqual(5)
    expect(sample(m, 'kv_request_duration_seconds_count', { op: 'put' })).toBeGreaterThanOrEqual(20)
    expect(sample(m, 'kv_wal_persist_duration_seconds_count')).toBeGreaterThan(0)
    expect(sample(m, 'kv_log_entries_persisted_total')).toBeGreaterThanOrEqual(20)
    expect(sample(m, 'kv_is_leader')).toBe(1)
    expect(sample(m, 'kv_applied_index')).toBeGreaterThanOrEqual(20)
    expect(sample(m, 'kv_leader_changes_total')).toBeGreaterThanOrEqual(1)
    expect(sample(m, 'kv_transport_queued_messages', { link: 'peers' })).toBeGreaterThanOrEqual(0)
    expect(sample(m, 'process_cpu_seconds_total')).toBeGreaterThan(0)
    const follower = c.ids.find((id) => id !== leader)!
    expect(sample((await get(url(follower, '/metrics'))).text, 'kv_is_leader')).toBe(0)

    expect((await get(url(leader, '/healthz'))).status).toBe(200)
    expect(await get(url(follower, '/readyz'))).toMatchObject({ status: 200 })
    expect((await get(url(leader, '/nothing'))).status).toBe(404)

    // kv status: a version, an uptime and a data size for every replica; exit 0 with a leader.
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'apps/node/package.json'), 'utf8')) as { version: string }
    const status = await runKv(['--config', c.configPath, '--json', 'status'])
    expect(status.code, status.stderr).toBe(0)
    const rows = JSON.parse(status.stdout) as Array<{ version?: string; uptimeSeconds?: number; dataBytes?: number }>
    for (const r of rows) {
      expect(r.version).toBe(version)
      expect(r.uptimeSeconds).toBeGreaterThanOrEqual(0)
    }
    await waitFor('data sizes in status', async () => {
      const again = JSON.parse((await runKv(['--config', c.configPath, '--json', 'status'])).stdout) as Array<{ dataBytes?: number }>
      return again.every((r) => (r.dataBytes ?? 0) > 0) ? true : undefined
    }, 15_000, 500)

    // Two of three replicas gone: the last one elects no leader; it is not ready, and kv status exits 3.
    const survivor = follower
    for (const id of c.ids.filter((x) => x !== survivor)) await c.kill(id, 'SIGKILL')
    await waitFor(`/readyz of ${survivor} answering 503`, async () => ((await get(url(survivor, '/readyz'))).status === 503 ? true : undefined), 20_000, 200)
    expect((await get(url(survivor, '/healthz'))).status).toBe(200)
    const down = await runKv(['--config', c.configPath, 'status'])
    expect(down.code, down.stdout + down.stderr).toBe(3)
    expect(down.stderr).toContain('no leader: g1')
    expect(down.stdout).toMatch(/VERSION\s+UPTIME\s+DATA/)
  }, 90_000)
})
