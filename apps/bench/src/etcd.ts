import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, openSync } from 'node:fs'
import path from 'node:path'
import { Agent, request } from 'node:http'
import { sleep } from './load.js'

/** The etcd binary, if installed (Debian: apt-get install etcd-server). */
export function findEtcd(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
}

export interface EtcdCluster {
  put(key: string, value: string): Promise<void>
  get(key: string): Promise<void>
  stop(): Promise<void>
}

/**
 * A three-member etcd cluster on 127.0.0.1 (data in `dir`), driven through its v3 JSON
 * gateway over keep-alive HTTP connections: each put is one durable, replicated write.
 */
export async function startEtcdCluster(bin: string, dir: string, basePort: number): Promise<EtcdCluster> {
  const members = [0, 1, 2].map((i) => ({ name: `e${i}`, client: basePort + 2 * i, peer: basePort + 2 * i + 1 }))
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',')
  const children: ChildProcess[] = members.map((m) => {
    mkdirSync(path.join(dir, m.name), { recursive: true })
    const log = openSync(path.join(dir, `${m.name}.log`), 'a')
    return spawn(bin, [
      '--name', m.name, '--data-dir', path.join(dir, m.name),
      '--listen-client-urls', `http://127.0.0.1:${m.client}`, '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
      '--listen-peer-urls', `http://127.0.0.1:${m.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
      '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', `bench-${process.pid}`,
    ], { stdio: ['ignore', log, log], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch } })
  })
  const agent = new Agent({ keepAlive: true, maxSockets: 256 })
  const port = members[0]!.client
  const call = (api: string, body: object) =>
    new Promise<void>((resolve, reject) => {
      const data = JSON.stringify(body)
      const req = request({ host: '127.0.0.1', port, path: `/v3/kv/${api}`, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
        res.resume()
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`etcd ${api}: HTTP ${res.statusCode}`))))
      })
      req.on('error', reject)
      req.end(data)
    })
  const b64 = (s: string) => Buffer.from(s).toString('base64')
  const cluster: EtcdCluster = {
    put: (key, value) => call('put', { key: b64(key), value: b64(value) }),
    // serializable: false (the default) makes this a linearizable read, like kv's get.
    get: (key) => call('range', { key: b64(key) }),
    async stop() {
      agent.destroy()
      for (const c of children) c.kill('SIGTERM')
      await sleep(500)
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    },
  }
  for (let i = 0; i < 60; i++) {
    try {
      await cluster.put('bench-ready', 'yes')
      return cluster
    } catch {
      await sleep(500)
    }
  }
  await cluster.stop()
  throw new Error(`etcd did not come up (logs in ${dir})`)
}
