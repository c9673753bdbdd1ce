/**
 * `pnpm bench`: throughput and latency of a real 3-replica kv cluster (processes on
 * 127.0.0.1, WAL + LMDB on disk), beside etcd's when the etcd binary is installed.
 * Figures, not pass/fail: this machine is shared and noisy; run it a few times.
 */
import { createClient } from '@kv/client'
import { Command, InvalidArgumentError } from 'commander'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { findEtcd, startEtcdCluster } from './etcd.js'
import { startKvCluster } from './kv-cluster.js'
import { runLoad, type LoadResult } from './load.js'

const int = (v: string) => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer')
  return n
}

interface Flags {
  protocol: string[]
  concurrency: number
  seconds: number
  valueBytes: number
  etcd: boolean
  keep?: boolean
}

function row(system: string, op: string, c: number, r: LoadResult): string {
  return [system.padEnd(10), op.padEnd(6), String(c).padStart(4), String(Math.round(r.opsPerSecond)).padStart(9),
    r.p50Ms.toFixed(2).padStart(8), r.p99Ms.toFixed(2).padStart(8), String(r.errors).padStart(7)].join('  ')
}

async function benchKv(protocol: 'raft' | 'paxos', f: Flags, value: string, port: number): Promise<string[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `kv-bench-${protocol}-`))
  const cluster = await startKvCluster(dir, protocol, port)
  // One client per 16 in-flight calls: a few connections, pipelined, like a handful of app servers.
  const clients = Array.from({ length: Math.ceil(f.concurrency / 16) }, () => createClient({ config: cluster.configPath, timeoutMs: 10_000 }))
  try {
    const writes = await runLoad(f.concurrency, f.seconds, (w, n) => clients[w % clients.length]!.put(`k${w}-${n % 1000}`, value))
    const reads = await runLoad(f.concurrency, f.seconds, async (w, n) => void (await clients[w % clients.length]!.get(`k${w}-${n % 1000}`)))
    return [row(`kv/${protocol}`, 'put', f.concurrency, writes), row(`kv/${protocol}`, 'get', f.concurrency, reads)]
  } finally {
    await Promise.all(clients.map((c) => c.close()))
    await cluster.stop()
    if (f.keep !== true) rmSync(dir, { recursive: true, force: true })
  }
}

async function benchEtcd(bin: string, f: Flags, value: string, port: number): Promise<string[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kv-bench-etcd-'))
  const etcd = await startEtcdCluster(bin, dir, port)
  try {
    const writes = await runLoad(f.concurrency, f.seconds, (w, n) => etcd.put(`k${w}-${n % 1000}`, value))
    const reads = await runLoad(f.concurrency, f.seconds, (w, n) => etcd.get(`k${w}-${n % 1000}`))
    return [row('etcd', 'put', f.concurrency, writes), row('etcd', 'get', f.concurrency, reads)]
  } finally {
    await etcd.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

new Command('bench')
  .description('throughput and latency of a real 3-replica cluster, beside etcd')
  .option('--protocol <p...>', 'raft and/or paxos', ['raft'])
  .option('-c, --concurrency <n>', 'requests in flight', int, 64)
  .option('-s, --seconds <n>', 'seconds measured per row', int, 10)
  .option('--value-bytes <n>', 'value size', int, 100)
  .option('--no-etcd', 'skip the etcd comparison')
  .option('--keep', 'keep the data folders')
  .action(async (f: Flags) => {
    const value = 'x'.repeat(f.valueBytes)
    console.log(`3 replicas on 127.0.0.1, ${f.valueBytes} B values, ${f.concurrency} in flight, ${f.seconds} s per row; ${os.cpus().length} cores`)
    console.log('system      op     conc    ops/s    p50ms    p99ms   errors')
    let port = 23100
    for (const p of f.protocol) {
      if (p !== 'raft' && p !== 'paxos') throw new InvalidArgumentError(`unknown protocol ${p}`)
      for (const line of await benchKv(p, f, value, port)) console.log(line)
      port += 10
    }
    if (f.etcd) {
      const bin = findEtcd()
      if (bin === null) console.log('etcd          (not installed: apt-get install etcd-server)')
      else for (const line of await benchEtcd(bin, f, value, port)) console.log(line)
    }
  })
  .parseAsync()
  .catch((e: unknown) => {
    console.error(e)
    process.exit(1)
  })
