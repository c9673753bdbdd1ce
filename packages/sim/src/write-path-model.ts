/**
 * The write path's structure, measured in the simulator: the very replica code, with no CPU
 * cost at all, a disk that syncs one group of writes at a time in `--sync-ms` (uniform), and a
 * network of `--net-ms` one way. What is left is how many syncs and round trips a write waits
 * for, which is what pipelining Readys changes: compare `--readys 1` (each Ready waits for the
 * previous one's write) with the default depth.
 *
 *   pnpm write-path-model [--protocol raft] [--writers 64] [--readys N] [--batches N] [--seeds 3]
 *
 * Prints writes per virtual second, p50 and p99 latency, and the leader's syncs per second.
 * Figures of a model: a real node also spends CPU per message and per Ready.
 */
import { Command, InvalidArgumentError } from 'commander'
import { reliableNetwork } from './network.js'
import { SimWorld } from './world.js'

interface Flags {
  protocol: 'raft' | 'paxos'
  writers: number
  readys?: number
  batches?: number
  seeds: number
  seconds: number
  syncMs: string
  netMs: string
  valueBytes: number
}

const int = (v: string) => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer')
  return n
}

function range(text: string): [number, number] {
  const [lo, hi] = text.split('-').map(Number)
  if (lo === undefined || hi === undefined || !(lo >= 0 && hi >= lo)) throw new InvalidArgumentError(`expected a range like 0.3-1.5, got ${text}`)
  return [lo, hi]
}

function run(f: Flags, seed: number): string {
  const [diskMinMs, diskMaxMs] = range(f.syncMs)
  const [minDelayMs, maxDelayMs] = range(f.netMs)
  const timing = { requestTimeoutMs: 250, opDeadlineMs: 4000, retryBackoffMs: 15, retryBackoffMaxMs: 200, thinkMs: 0 }
  const w = new SimWorld({
    seed,
    protocol: f.protocol,
    checkInvariants: false,
    timing: { tickMs: 10, electionTimeoutTicks: 10, heartbeatTicks: 2, diskMinMs, diskMaxMs },
    network: { ...reliableNetwork, minDelayMs, maxDelayMs },
    clientTiming: timing,
    limits: { snapshotEveryEntries: 0, ...(f.batches === undefined ? {} : { maxBatchesWriting: f.batches }) },
    ...(f.readys === undefined ? {} : { maxReadysInFlight: f.readys }),
  })
  w.runUntil(() => w.leader() !== null, 5000)
  const value = 'x'.repeat(f.valueBytes)
  w.addClientsWith(f.writers, (no) => {
    let n = 0
    return () => ({ op: 'put', key: `k${no}-${n++ % 1000}`, value })
  })
  w.runFor(300) // warm-up
  const start = w.now
  const leader = w.leader()
  const syncsBefore = leader?.disk.syncs ?? 0
  w.runFor(f.seconds * 1000)
  const ops = w.history.operations().filter((o) => o.call >= start && o.return <= w.now)
  const latencies = ops.map((o) => o.return - o.call).sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
  const syncs = ((leader?.disk.syncs ?? 0) - syncsBefore) / f.seconds
  return `seed ${seed}: ${Math.round(ops.length / f.seconds)} writes/s, p50 ${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms, leader ${Math.round(syncs)} syncs/s`
}

await new Command('write-path-model')
  .description("the write path's syncs and round trips, in virtual time (no CPU cost)")
  .option('--protocol <p>', 'raft or paxos', (v) => {
    if (v !== 'raft' && v !== 'paxos') throw new InvalidArgumentError('raft or paxos')
    return v
  }, 'raft')
  .option('--writers <n>', 'clients, each with one put in flight', int, 64)
  .option('--readys <n>', 'CoreConfig.maxReadysInFlight (default: the contract default)', int)
  .option('--batches <n>', 'ReplicaLimits.maxBatchesWriting (default: the replica default)', int)
  .option('--seeds <n>', 'runs, seeds 1..n', int, 3)
  .option('--seconds <n>', 'virtual seconds measured per run', int, 2)
  .option('--sync-ms <range>', 'one sync takes this long, uniform', '0.3-1.5')
  .option('--net-ms <range>', 'one message takes this long, uniform', '0.05-0.15')
  .option('--value-bytes <n>', 'value size', int, 100)
  .action((f: Flags) => {
    const settings = `readys ${f.readys ?? 'default'}, batches ${f.batches ?? 'default'}`
    console.log(`${f.protocol}, ${f.writers} writers, sync ${f.syncMs} ms, network ${f.netMs} ms, ${settings}:`)
    for (let seed = 1; seed <= f.seeds; seed++) console.log(`  ${run(f, seed)}`)
  })
  .parseAsync()
