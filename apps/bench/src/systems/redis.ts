/**
 * Redis as a comparator: one Debian `redis-server` (not replicated) made as durable as it
 * gets on one machine — `appendonly yes`, `appendfsync always`: every write is in the
 * append-only file and fsynced before its reply — with a fresh data folder, driven through
 * node-redis (`redis`), whose calls on one connection are pipelined.
 */
import { createClient, RESP_TYPES } from 'redis'
import { spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import path from 'node:path'
import type { ServerProcess } from '../cpu.js'
import type { SystemInfo } from '../result.js'
import { spawnTracked, stopChild } from './children.js'
import { waitUntil, type Connections, type RunningSystem } from './system.js'

export function findRedis(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' })
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : null
}

function redisVersion(bin: string): string {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' })
  return /v=(\S+)/.exec(r.stdout)?.[1] ?? 'unknown'
}

type Client = ReturnType<typeof newClient>

function newClient(port: number) {
  // Values come back as Buffers, as kv's and etcd3's do: no string decoding in the load generator.
  return createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false } }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer })
}

export class RedisServer implements RunningSystem {
  readonly info: SystemInfo
  readonly #child: ChildProcess
  readonly #port: number

  private constructor(version: string, child: ChildProcess, port: number) {
    this.info = { id: 'redis', label: `redis ${version.split('.').slice(0, 2).join('.')} (AOF, fsync always)`, product: 'redis', client: 'redis (node-redis)', version }
    this.#child = child
    this.#port = port
  }

  static async start(bin: string, dir: string, port: number): Promise<RedisServer> {
    mkdirSync(dir, { recursive: true })
    const log = openSync(path.join(dir, 'redis-server.log'), 'a')
    let child: ChildProcess
    try {
      child = spawnTracked(bin, [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--save', '',
        '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'no',
      ], { stdio: ['ignore', log, log] })
    } finally {
      closeSync(log)
    }
    const server = new RedisServer(redisVersion(bin), child, port)
    try {
      await waitUntil('redis-server to answer', async () => {
        const c = newClient(port)
        c.on('error', () => undefined)
        try {
          await c.connect()
          await c.set('bench-ready', 'yes')
          return true
        } finally {
          c.destroy()
        }
      }, 20_000, 200)
    } catch (e) {
      await server.stop()
      throw new Error(`redis-server did not come up (log in ${dir}): ${e instanceof Error ? e.message : String(e)}`)
    }
    return server
  }

  async connect(n: number): Promise<Connections> {
    const clients: Client[] = []
    for (let i = 0; i < n; i++) {
      const c = newClient(this.#port)
      c.on('error', () => undefined)
      await c.connect()
      clients.push(c)
    }
    return {
      drivers: clients.map((c) => ({
        put: async (key: string, value: Uint8Array) => void (await c.set(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength))),
        get: async (key: string) => void (await c.get(key)),
        putMany: async (keys: readonly string[], value: Uint8Array) => {
          const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
          await c.mSet(keys.map((k) => [k, v] as [string, Buffer]))
        },
      })),
      close: async () => {
        await Promise.all(clients.map((c) => c.quit().catch(() => c.destroy())))
      },
    }
  }

  processes(): ServerProcess[] {
    return [{ name: 'redis-server', pid: this.#child.pid ?? -1 }]
  }

  roles(): Promise<Map<string, string>> {
    return Promise.resolve(new Map([['redis-server', 'server']]))
  }

  async stop(): Promise<void> {
    await stopChild(this.#child)
  }
}
