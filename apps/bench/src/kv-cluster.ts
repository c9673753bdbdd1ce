import { createClient } from '@kv/client'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, openSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { sleep } from './load.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const cli = path.join(root, 'apps/node/src/cli.ts')

export interface KvCluster {
  readonly configPath: string
  readonly config: unknown
  stop(): Promise<void>
}

/** Three `kv node` processes on 127.0.0.1, data in `dir`; resolves once a leader answers. */
export async function startKvCluster(dir: string, protocol: 'raft' | 'paxos', basePort: number): Promise<KvCluster> {
  mkdirSync(dir, { recursive: true })
  const replicas = [1, 2, 3].map((i) => ({ id: `g1-r${i}`, host: '127.0.0.1', port: basePort + i - 1 }))
  const config = { clusterId: `bench-${process.pid}`, token: 'bench', tickMs: 50, groups: [{ id: 'g1', protocol, replicas }] }
  const configPath = path.join(dir, 'cluster.json')
  writeFileSync(configPath, JSON.stringify(config))
  const children: ChildProcess[] = replicas.map((r) => {
    const log = openSync(path.join(dir, `${r.id}.log`), 'a')
    const args = ['--conditions=@kv/source', '--import', 'tsx', cli, '--config', configPath, 'node', '--id', r.id, '--data', path.join(dir, r.id), '--log-level', 'warn']
    return spawn(process.execPath, args, { cwd: root, stdio: ['ignore', log, log] })
  })
  const client = createClient({ config: configPath, timeoutMs: 2000 })
  try {
    for (let i = 0; i < 60; i++) {
      try {
        await client.put('bench-ready', 'yes')
        break
      } catch {
        await sleep(500)
      }
    }
  } finally {
    await client.close()
  }
  return {
    configPath,
    config,
    async stop() {
      for (const c of children) c.kill('SIGTERM')
      await sleep(500)
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    },
  }
}
