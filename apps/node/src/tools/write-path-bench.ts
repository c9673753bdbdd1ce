/**
 * A micro-benchmark of the write path's settings: three real replicas (TCP on 127.0.0.1, WAL +
 * LMDB in a temp folder) run in this one process, and a closed loop keeps `-c` puts in flight.
 * Each variant runs for `-s` seconds on a fresh group, and the variants take turns for
 * `--rounds` rounds, so a machine whose load drifts treats them alike; medians are printed.
 *
 *   pnpm write-path-bench [--protocol raft] [-c 64] [-s 3] [--rounds 5] [--variants pipelined,unpipelined]
 *
 * Variants: `pipelined` (the defaults), `unpipelined` (one Ready in flight: each waits for the
 * previous one's write), `depth2`/`depth4` (at most 2 or 4 Readys in flight), `eager` (pipelined, and writes proposed at once rather than gathered
 * while a batch is being written). One process runs all three replicas and the load, so the
 * figures compare settings; they are not what a cluster of separate processes does. The CPU
 * time per write (this process's, over the measured window) follows the load of a shared
 * machine much less than writes/s do.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createClient } from '@kv/client'
import { noFaults } from '@kv/transport-tcp'
import type { ReplicaLimits } from '@kv/server'
import { Command, InvalidArgumentError } from 'commander'
import { quantile, startClosedLoop, waitForFirstWrite } from './closed-loop.js'
import { pino } from 'pino'
import { parseConfig } from '../config.js'
import { startNode, type RunningNode } from '../runtime.js'

interface Tuning {
  readonly maxReadysInFlight?: number
  readonly limits?: Partial<ReplicaLimits>
}

const VARIANTS: Readonly<Record<string, Tuning>> = {
  pipelined: {},
  unpipelined: { maxReadysInFlight: 1 },
  depth2: { maxReadysInFlight: 2 },
  depth4: { maxReadysInFlight: 4 },
  eager: { limits: { maxBatchesWriting: 1_000_000 } },
}

interface Flags {
  protocol: 'raft' | 'paxos'
  concurrency: number
  seconds: number
  rounds: number
  valueBytes: number
  variants: string
  port: number
}

interface Run {
  readonly writesPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** CPU time (user + system) of this process per write: the replicas and the load together. */
  readonly cpuUsPerWrite: number
}

const int = (v: string) => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer')
  return n
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

async function runOnce(f: Flags, tuning: Tuning, port: number): Promise<Run> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kv-write-path-'))
  const replicas = [1, 2, 3].map((i) => ({ id: `g1-r${i}`, host: '127.0.0.1', port: port + i - 1 }))
  const config = parseConfig({ clusterId: `wpb-${process.pid}-${port}`, token: 'wpb', tickMs: 50, groups: [{ id: 'g1', protocol: f.protocol, replicas }] })
  const logger = pino({ level: 'error' })
  const nodes: RunningNode[] = []
  const clients = Array.from({ length: Math.ceil(f.concurrency / 16) }, () => createClient({ config, timeoutMs: 10_000 }))
  try {
    for (const r of replicas) {
      nodes.push(await startNode({ config, id: r.id, dataDir: path.join(dir, r.id), faults: noFaults, skipSlots: [], logger, tuning }))
    }
    await waitForFirstWrite(clients[0]!, 100, 100)
    const load = startClosedLoop(clients, f.concurrency, f.valueBytes)
    await sleep(500)
    load.startMeasuring()
    const start = performance.now()
    const cpuStart = process.cpuUsage()
    await sleep(f.seconds * 1000)
    const latencies = load.stopMeasuring()
    const cpu = process.cpuUsage(cpuStart)
    const elapsed = (performance.now() - start) / 1000
    await load.stop()
    const at = (q: number) => quantile(latencies, q)
    const writes = Math.max(1, latencies.length)
    return { writesPerSecond: latencies.length / elapsed, p50Ms: at(0.5), p99Ms: at(0.99), cpuUsPerWrite: (cpu.user + cpu.system) / writes }
  } finally {
    await Promise.all(clients.map((c) => c.close()))
    for (const node of nodes) await node.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main(f: Flags): Promise<void> {
  const names = f.variants.split(',').map((v) => v.trim())
  for (const name of names) if (VARIANTS[name] === undefined) throw new InvalidArgumentError(`unknown variant ${name} (${Object.keys(VARIANTS).join(', ')})`)
  const runs = new Map<string, Run[]>(names.map((n) => [n, []]))
  let port = f.port
  for (let round = 1; round <= f.rounds; round++) {
    for (const name of names) {
      const run = await runOnce(f, VARIANTS[name]!, port)
      port += 10
      runs.get(name)!.push(run)
      console.log(`round ${round} ${name.padEnd(12)} ${String(Math.round(run.writesPerSecond)).padStart(7)} writes/s  p50 ${run.p50Ms.toFixed(2)} ms  p99 ${run.p99Ms.toFixed(2)} ms  CPU ${run.cpuUsPerWrite.toFixed(0)} µs/write  (load ${os.loadavg()[0]!.toFixed(1)})`)
    }
  }
  console.log(`medians over ${f.rounds} rounds, ${f.protocol}, ${f.concurrency} in flight, ${f.valueBytes} B:`)
  for (const [name, rs] of runs) {
    console.log(`  ${name.padEnd(12)} ${String(Math.round(median(rs.map((r) => r.writesPerSecond)))).padStart(7)} writes/s  p50 ${median(rs.map((r) => r.p50Ms)).toFixed(2)} ms  p99 ${median(rs.map((r) => r.p99Ms)).toFixed(2)} ms  CPU ${median(rs.map((r) => r.cpuUsPerWrite)).toFixed(0)} µs/write`)
  }
}

await new Command('write-path-bench')
  .description('three replicas in one process under a closed loop of puts, settings compared in turns')
  .option('--protocol <p>', 'raft or paxos', (v) => {
    if (v !== 'raft' && v !== 'paxos') throw new InvalidArgumentError('raft or paxos')
    return v
  }, 'raft')
  .option('-c, --concurrency <n>', 'requests in flight', int, 64)
  .option('-s, --seconds <n>', 'seconds measured per run', int, 3)
  .option('--rounds <n>', 'rounds (each runs every variant once)', int, 5)
  .option('--value-bytes <n>', 'value size', int, 100)
  .option('--variants <list>', `comma-separated, of ${Object.keys(VARIANTS).join(', ')}`, 'pipelined,unpipelined,eager')
  .option('--port <n>', 'first port', int, 23500)
  .action(main)
  .parseAsync()
