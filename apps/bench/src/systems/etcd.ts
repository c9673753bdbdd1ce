/**
 * etcd as a comparator: a three-member cluster on 127.0.0.1 (Debian's etcd-server, 3.4; data
 * in a scratch folder, every write fsynced by etcd's WAL as it always is), driven two ways:
 *   - through its gRPC API with the `etcd3` client (what an application uses): the main row;
 *   - through its v3 JSON gateway over keep-alive HTTP (what this bench used before), kept as
 *     a labelled row because earlier figures were taken that way.
 * Gets are linearizable reads in both (etcd's default, `serializable: false`).
 */
import { Etcd3 } from 'etcd3'
import { spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { Agent, request } from 'node:http'
import path from 'node:path'
import type { ServerProcess } from '../cpu.js'
import type { SystemInfo } from '../result.js'
import { spawnTracked, stopChild } from './children.js'
import { waitUntil, type Connections, type RunningSystem } from './system.js'

/** The etcd binary, if installed (Debian: apt-get install etcd-server). */
export function findEtcd(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' })
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : null
}

function etcdVersion(bin: string): string {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' })
  return /etcd Version: (\S+)/.exec(r.stdout)?.[1] ?? 'unknown'
}

interface Member {
  name: string
  client: number
  peer: number
}

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64')

/** One POST to a member's JSON gateway; resolves with the parsed body on HTTP 200. */
function gatewayCall(agent: Agent, port: number, api: string, body: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body)
    const req = request(
      { host: '127.0.0.1', port, path: `/v3/${api}`, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`etcd ${api}: HTTP ${res.statusCode}`))
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)))
          }
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(data)
  })
}

export class EtcdCluster {
  readonly version: string
  readonly members: readonly Member[]
  readonly #children: ChildProcess[]
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 512 })

  private constructor(version: string, members: Member[], children: ChildProcess[]) {
    this.version = version
    this.members = members
    this.#children = children
  }

  static async start(bin: string, dir: string, basePort: number): Promise<EtcdCluster> {
    const members = [0, 1, 2].map((i) => ({ name: `etcd-${i + 1}`, client: basePort + 2 * i, peer: basePort + 2 * i + 1 }))
    const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',')
    const children = members.map((m) => {
      mkdirSync(path.join(dir, m.name), { recursive: true })
      const log = openSync(path.join(dir, `${m.name}.log`), 'a')
      try {
        return spawnTracked(bin, [
          '--name', m.name, '--data-dir', path.join(dir, m.name),
          '--listen-client-urls', `http://127.0.0.1:${m.client}`, '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
          '--listen-peer-urls', `http://127.0.0.1:${m.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
          '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', `bench-${process.pid}-${basePort}`,
        ], { stdio: ['ignore', log, log], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch } })
      } finally {
        closeSync(log)
      }
    })
    const cluster = new EtcdCluster(etcdVersion(bin), members, children)
    try {
      await waitUntil('etcd to take writes', async () => {
        await gatewayCall(cluster.#agent, members[0]!.client, 'kv/put', { key: b64('bench-ready'), value: b64('yes') })
        return true
      }, 30_000, 300)
    } catch (e) {
      await cluster.stop()
      throw new Error(`etcd did not come up (logs in ${dir}): ${e instanceof Error ? e.message : String(e)}`)
    }
    return cluster
  }

  processes(): ServerProcess[] {
    return this.members.map((m, i) => ({ name: m.name, pid: this.#children[i]!.pid ?? -1 }))
  }

  /** leader or follower per member, from each member's maintenance status. */
  async roles(): Promise<Map<string, string>> {
    const answers = await Promise.all(this.members.map((m) =>
      gatewayCall(this.#agent, m.client, 'maintenance/status', {}).then((s) => s as { header?: { member_id?: string }; leader?: string }, () => null)))
    return new Map(this.members.map((m, i) => {
      const s = answers[i]
      const role = s === null || s === undefined ? 'no answer' : s.leader !== undefined && s.leader === s.header?.member_id ? 'leader' : 'follower'
      return [m.name, role]
    }))
  }

  /** Driven through the etcd3 gRPC client (one client per connection asked for, each knowing every member). */
  grpc(): RunningSystem {
    const info: SystemInfo = { id: 'etcd', label: `etcd ${this.version.split('.').slice(0, 2).join('.')} (gRPC)`, product: 'etcd', client: 'etcd3', version: this.version }
    return this.#view(info, (n) => {
      const hosts = this.members.map((m) => `http://127.0.0.1:${m.client}`)
      const clients = Array.from({ length: n }, () => new Etcd3({ hosts }))
      return {
        drivers: clients.map((c) => ({
          put: async (key: string, value: Uint8Array) => void (await c.put(key).value(Buffer.from(value.buffer, value.byteOffset, value.byteLength))),
          get: async (key: string) => void (await c.get(key).buffer()),
          // One transaction of puts (etcd allows 128 operations per txn by default).
          putMany: async (keys: readonly string[], value: Uint8Array) => {
            const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
            await c.kv.txn({ success: keys.map((k) => ({ request_put: { key: Buffer.from(k), value: v } })) })
          },
        })),
        close: () => {
          for (const c of clients) c.close()
          return Promise.resolve()
        },
      }
    })
  }

  /** Driven through the v3 JSON gateway of the first member, over keep-alive HTTP/1.1. */
  gateway(): RunningSystem {
    const info: SystemInfo = { id: 'etcd-gateway', label: 'etcd (v3 JSON gateway)', product: 'etcd', client: 'node:http, v3 JSON gateway', version: this.version }
    const port = this.members[0]!.client
    return this.#view(info, (n) => {
      const agents = Array.from({ length: n }, () => new Agent({ keepAlive: true, maxSockets: 64 }))
      return {
        drivers: agents.map((a) => ({
          put: async (key: string, value: Uint8Array) => void (await gatewayCall(a, port, 'kv/put', { key: b64(key), value: b64(value) })),
          get: async (key: string) => void (await gatewayCall(a, port, 'kv/range', { key: b64(key) })),
        })),
        close: () => {
          for (const a of agents) a.destroy()
          return Promise.resolve()
        },
      }
    })
  }

  #view(info: SystemInfo, connect: (n: number) => Connections): RunningSystem {
    return {
      info,
      connect: (n) => Promise.resolve(connect(n)),
      processes: () => this.processes(),
      roles: () => this.roles(),
      // The cluster outlives its views: stopped once, by its owner.
      stop: () => Promise.resolve(),
    }
  }

  async stop(): Promise<void> {
    this.#agent.destroy()
    await Promise.all(this.#children.map((c) => stopChild(c)))
  }
}
