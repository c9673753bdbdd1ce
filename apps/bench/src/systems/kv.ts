/**
 * A real kv cluster on this machine, laid out by `kv config generate` and run as one
 * `kv node` process per replica (WAL + LMDB in a scratch folder): one shard group without a
 * controller, or a controller group and N shard groups. Every process starts from one
 * esbuild bundle of the current sources (kv-bundle.ts), not through tsx.
 */
import { createClient, loadClusterConfig, type ClusterConfig, type KvClient } from '@kv/client'
import { execFileSync, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ServerProcess } from '../cpu.js'
import type { Protocol, SystemInfo } from '../result.js'
import { kvBundle } from './kv-bundle.js'
import { killChild, spawnTracked, stopChild } from './children.js'
import { waitUntil, type Connections, type RunningSystem } from './system.js'

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url))


export interface KvClusterOptions {
  dir: string
  protocol: Protocol
  groups: number
  basePort: number
  /** Each replica on its own loopback address 127.0.<group>.<r> (failover rows cut links with iptables). */
  spreadHosts?: boolean
}

const protocolLabel = { raft: 'Raft', paxos: 'Multi-Paxos' } as const

export function kvSystemInfo(protocol: Protocol, groups: number): SystemInfo {
  return {
    id: `kv-${protocol}-g${groups}`,
    label: `kv ${protocolLabel[protocol]}${groups > 1 ? `, ${groups} groups` : ''}`,
    product: 'kv',
    protocol,
    groups,
    client: '@kv/client',
  }
}

export class KvCluster implements RunningSystem {
  readonly info: SystemInfo
  readonly config: ClusterConfig
  readonly configPath: string
  readonly #cli: string
  readonly #dir: string
  readonly #children = new Map<string, ChildProcess>()
  readonly #probe: KvClient

  private constructor(cli: string, o: KvClusterOptions, configPath: string) {
    this.#cli = cli
    this.#dir = o.dir
    this.configPath = configPath
    this.config = loadClusterConfig(configPath)
    this.info = kvSystemInfo(o.protocol, o.groups)
    this.#probe = createClient({ config: this.config, timeoutMs: 1000 })
  }

  /** Generates the config, starts every replica and waits until each group has a leader and takes writes. */
  static async start(o: KvClusterOptions): Promise<KvCluster> {
    const cli = await kvBundle()
    mkdirSync(o.dir, { recursive: true })
    const configPath = path.join(o.dir, 'cluster.json')
    const args = [cli, 'config', 'generate', '--groups', String(o.groups), '--protocol', o.protocol, '--base-port', String(o.basePort), '-o', configPath]
    if (o.spreadHosts === true) args.push('--spread-hosts')
    execFileSync(process.execPath, args, { cwd: repoRoot, stdio: 'pipe' })
    const cluster = new KvCluster(cli, o, configPath)
    for (const id of cluster.replicaIds()) cluster.#startReplica(id)
    try {
      await cluster.#waitReady()
    } catch (e) {
      await cluster.stop()
      throw new Error(`kv cluster did not come up (logs in ${o.dir}): ${e instanceof Error ? e.message : String(e)}`)
    }
    return cluster
  }

  #groups() {
    return [...(this.config.controller === undefined ? [] : [this.config.controller]), ...this.config.groups]
  }

  replicaIds(): string[] {
    return this.#groups().flatMap((g) => g.replicas.map((r) => r.id))
  }

  address(id: string): string {
    const r = this.#groups().flatMap((g) => g.replicas).find((x) => x.id === id)
    if (r === undefined) throw new Error(`no replica ${id}`)
    return `${r.host}:${r.port}`
  }

  host(id: string): string {
    return this.address(id).split(':')[0]!
  }

  #startReplica(id: string): void {
    const log = openSync(path.join(this.#dir, `${id}.log`), 'a')
    try {
      const args = ['--enable-source-maps', this.#cli, '--config', this.configPath, 'node', '--id', id, '--data', path.join(this.#dir, id), '--log-level', 'warn']
      this.#children.set(id, spawnTracked(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', log, log] }))
    } finally {
      closeSync(log)
    }
  }

  async #waitReady(): Promise<void> {
    for (const g of this.#groups()) await waitUntil(`a leader of ${g.id}`, async () => (await this.leaderOf(g.id)) !== null, 60_000)
    // Through the client: the shard map is known and every group takes writes.
    const client = createClient({ config: this.config, timeoutMs: 2000 })
    try {
      await waitUntil('the cluster to take writes', async () => {
        await Promise.all(Array.from({ length: 32 }, (_, i) => client.put(`bench-ready-${i}`, 'yes')))
        return true
      }, 60_000, 300)
    } finally {
      await client.close()
    }
  }

  /** The replica of `group` that says it leads (the highest term if several do), or null. */
  async leaderOf(group: string): Promise<string | null> {
    const g = this.#groups().find((x) => x.id === group)
    if (g === undefined) throw new Error(`no group ${group}`)
    const live = g.replicas.filter((r) => this.isRunning(r.id))
    const rows = await Promise.all(live.map((r) => this.#probe.status(`${r.host}:${r.port}`, { timeoutMs: 800 }).catch(() => null)))
    const leaders = rows.filter((s) => s !== null && s.role === 'leader').sort((a, b) => b!.term - a!.term)
    return leaders[0]?.replicaId ?? null
  }

  isRunning(id: string): boolean {
    const c = this.#children.get(id)
    return c !== undefined && c.exitCode === null && c.signalCode === null
  }

  async kill(id: string): Promise<void> {
    const c = this.#children.get(id)
    if (c !== undefined) await killChild(c)
  }

  processes(): ServerProcess[] {
    return [...this.#children.entries()].filter(([id]) => this.isRunning(id)).map(([name, c]) => ({ name, pid: c.pid ?? -1 }))
  }

  async roles(): Promise<Map<string, string>> {
    const ids = this.replicaIds()
    const rows = await Promise.all(ids.map((id) => (this.isRunning(id) ? this.#probe.status(this.address(id), { timeoutMs: 800 }).catch(() => null) : Promise.resolve(null))))
    return new Map(ids.map((id, i) => {
      const role = this.isRunning(id) ? rows[i]?.role ?? 'no answer' : 'killed'
      return [id, id.startsWith('ctl-') ? `controller ${role}` : role]
    }))
  }

  connect(n: number): Promise<Connections> {
    // Each client pipelines its calls over one connection per replica, as an application server would.
    const clients = Array.from({ length: n }, () => createClient({ config: this.config, timeoutMs: 10_000 }))
    return Promise.resolve({
      drivers: clients.map((c) => ({
        put: (key: string, value: Uint8Array) => c.put(key, value),
        get: async (key: string) => void (await c.get(key)),
        putMany: (keys: readonly string[], value: Uint8Array) => c.batchPut(keys.map((k) => [k, value] as const)),
      })),
      close: async () => void (await Promise.all(clients.map((c) => c.close()))),
    })
  }

  async stop(): Promise<void> {
    await this.#probe.close()
    await Promise.all([...this.#children.values()].map((c) => stopChild(c)))
  }
}
