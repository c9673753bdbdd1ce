/**
 * A TCP proxy per replica, for a client whose connections a test wants to cut: the client gets a
 * config whose replica addresses are the proxies, and `dropAll()` destroys every connection
 * through them (the replicas keep running; the client sees its connections die mid-request).
 */
import net from 'node:net'
import { allGroups } from '@kv/protocol'
import type { ClusterConfig } from '../src/config.js'
import { parseConfig } from '../src/config.js'

export class TcpProxy {
  readonly #server: net.Server
  readonly #pairs = new Set<[net.Socket, net.Socket]>()
  /** Connections cut by `dropAll` so far. */
  dropped = 0

  private constructor(server: net.Server) {
    this.#server = server
  }

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    let proxy: TcpProxy | null = null
    const server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host)
      const pair: [net.Socket, net.Socket] = [client, upstream]
      proxy!.#pairs.add(pair)
      const close = () => {
        proxy!.#pairs.delete(pair)
        client.destroy()
        upstream.destroy()
      }
      client.on('error', close).on('close', close)
      upstream.on('error', close).on('close', close)
      client.pipe(upstream)
      upstream.pipe(client)
    })
    proxy = new TcpProxy(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return proxy
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port
  }

  /** Cuts every connection through this proxy now. */
  dropAll(): number {
    const n = this.#pairs.size
    for (const [a, b] of this.#pairs) {
      a.destroy()
      b.destroy()
    }
    this.#pairs.clear()
    this.dropped += n
    return n
  }

  async close(): Promise<void> {
    this.dropAll()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}

/** The config with every replica behind a proxy of its own. */
export async function proxiedConfig(config: ClusterConfig): Promise<{ config: ClusterConfig; proxies: TcpProxy[] }> {
  const proxies: TcpProxy[] = []
  const behind = async (r: { id: string; host: string; port: number }) => {
    const p = await TcpProxy.start(r)
    proxies.push(p)
    return { ...r, host: '127.0.0.1', port: p.port }
  }
  const groups = await Promise.all(config.groups.map(async (g) => ({ ...g, replicas: await Promise.all(g.replicas.map(behind)) })))
  const controller = config.controller === undefined ? undefined : { ...config.controller, replicas: await Promise.all(config.controller.replicas.map(behind)) }
  const result = parseConfig({ ...config, groups, ...(controller === undefined ? {} : { controller }) })
  if (allGroups(result).flatMap((g) => g.replicas).length !== proxies.length) throw new Error('a replica without a proxy')
  return { config: result, proxies }
}
