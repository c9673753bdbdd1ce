/**
 * `pnpm soak`: real `kv node`s under concurrent clients and a random nemesis for N minutes,
 * per protocol; the history checked, the replicas compared. Exit 0 only if every run is
 * LINEARIZABLE with equal digests (and no replica exited on its own). See README.md.
 */
import { Command, InvalidArgumentError, Option } from 'commander'
import { rmSync, writeFileSync } from 'node:fs'
import { bundleCli } from '../test/bundle-cli.js'
import { defaultBasePort, defaultHostGroup, portRange } from './limits.js'
import type { RunSummary } from './summary.js'

interface Flags {
  minutes: number
  protocol: 'raft' | 'paxos' | 'both'
  sharded?: boolean
  seed?: number
  clients: number
  f?: number
  keep?: boolean
  json?: string
  basePort?: number
  hostGroup?: number
}

function positive(v: string): number {
  const n = Number(v)
  if (!(Number.isFinite(n) && n > 0)) throw new InvalidArgumentError('expected a positive number')
  return n
}

function integer(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`)
    return n
  }
}

async function main(f: Flags): Promise<number> {
  const protocols = f.protocol === 'both' ? (['raft', 'paxos'] as const) : ([f.protocol] as const)
  const seed = f.seed ?? Math.floor(Math.random() * 2 ** 31)
  // Faster restarts: every `kv node` starts from one bundle of the sources, not through tsx.
  if (process.env.KV_TEST_CLI === undefined) {
    const file = await bundleCli(`kv-soak-${process.pid}.mjs`)
    process.once('exit', () => {
      rmSync(file, { force: true })
      rmSync(`${file}.map`, { force: true })
    })
    process.env.KV_TEST_CLI = file
  }
  // Loaded now: the harness reads KV_TEST_CLI when it loads.
  const { Firewall } = await import('../test/firewall.js')
  const { soak } = await import('./run.js')
  const { formatSummary } = await import('./summary.js')
  process.prependOnceListener('SIGINT', () => console.log('\ninterrupted: killing the replicas, removing the firewall rules'))
  const watchdog = setTimeout(() => {
    console.error('soak: the watchdog ended the run (it went on far past --minutes)')
    process.exit(2)
  }, protocols.length * (f.minutes * 60_000 + (await import('./limits.js')).watchdogSlackMs))
  const firewall = Firewall.open()
  const runs: RunSummary[] = []
  try {
    for (const [i, protocol] of protocols.entries()) {
      const basePort = f.basePort === undefined ? defaultBasePort[protocol] : f.basePort + 50 * i
      const hostGroup = f.hostGroup === undefined ? defaultHostGroup[protocol] : f.hostGroup + i
      const summary = await soak(firewall, {
        protocol, sharded: f.sharded === true, minutes: f.minutes, seed, clients: f.clients, f: f.f ?? (f.sharded === true ? 1 : 2),
        keep: f.keep === true, basePort, hostGroup, log: (line) => console.log(line),
      })
      runs.push(summary)
      console.log(formatSummary(summary))
    }
  } finally {
    clearTimeout(watchdog)
    firewall.close()
  }
  const pass = runs.every((r) => r.pass)
  if (f.json !== undefined) writeFileSync(f.json, JSON.stringify({ seed, pass, runs }, null, 2) + '\n')
  console.log(`soak: ${runs.map((r) => `${r.protocol} ${r.verdict}, digests ${r.digestsEqual ? 'equal' : 'DIFFER'}`).join('; ')} → ${pass ? 'PASS' : 'FAIL'} (seed ${seed})`)
  return pass ? 0 : 1
}

new Command('soak')
  .description('real kv nodes, concurrent clients and a random nemesis; the history checked, the replicas compared')
  .option('--minutes <n>', 'how long each protocol runs (fractions allowed)', positive, 2)
  .addOption(new Option('--protocol <p>', 'raft, paxos or both (one after the other)').choices(['raft', 'paxos', 'both']).default('both'))
  .option('--sharded', 'a controller, 2 shard groups and a spare added and removed during the run')
  .option('--seed <s>', 'seed of the nemesis schedule and the workload (default: random, printed)', integer(0, 2 ** 31 - 1))
  .option('--clients <n>', 'concurrent clients', integer(1, 64), 4)
  .option('--f <n>', 'failures each group tolerates: 2f+1 replicas (default 2, sharded 1)', integer(1, 3))
  .option('--keep', 'keep the data folders (replica logs, WAL, LMDB); kept anyway when a run fails')
  .option('--json <file>', 'write the summaries as JSON')
  .addOption(new Option('--base-port <port>', 'first port (default 23500 raft, 23600 paxos)').argParser(integer(portRange.first, portRange.last - 60)))
  .addOption(new Option('--host-group <g>', 'replicas on 127.0.<g>.n (default 231 raft, 232 paxos)').argParser(integer(2, 253)))
  .action(async (f: Flags) => {
    if (f.minutes < 0.25) throw new InvalidArgumentError('--minutes must be at least 0.25 (15 s)')
    process.exitCode = await main(f)
  })
  .parseAsync()
  .catch((e: unknown) => {
    console.error(`soak: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
    process.exit(2)
  })
