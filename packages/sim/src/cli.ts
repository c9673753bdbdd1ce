/**
 * `pnpm sim`: the deterministic simulator from the command line.
 *
 *   pnpm sim --protocol raft --seeds 1000     fuzz: N seeds, prints failing seeds, ends with a summary line
 *   pnpm sim --protocol raft --seed 42        replay one seed; prints trace=<digest>
 *   pnpm sim --sharded --protocol raft --seeds 300   the same with a controller, shard groups and live migrations
 *   pnpm sim demo                             a short narrated run (the README's main job)
 */
import { Command, InvalidArgumentError } from 'commander'
import { runDemo } from './demo.js'
import { describeFaults } from './nemesis.js'
import { isProtocol, type Protocol } from './protocols.js'
import { runScenario, scenarioFor, type RunResult } from './run.js'

function parseProtocol(v: string): Protocol {
  if (!isProtocol(v)) throw new InvalidArgumentError('expected raft or paxos')
  return v
}

function parseCount(v: string): number {
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer')
  return n
}

function describe(r: RunResult): string {
  const s = r.scenario
  const sharded = s.sharded === null ? '' : ` sharded=[${s.sharded.spec.groups.map((g) => `${g.id}:${g.protocol}x${g.replicas.length}`).join(',')}] changes=[${s.sharded.changes.map((c) => (c.op.op === 'addGroup' ? `+${c.op.group.id}` : c.op.op === 'removeGroup' ? `-${c.op.groupId}` : '?')).join(',')}]`
  return (sharded.trimStart() + (sharded === '' ? '' : ' ') +
    `seed=${s.seed} protocol=${s.protocol} replicas=${s.replicas} clients=${s.clients}${readers(s.readFractions)} requestTimeout=${s.requestTimeoutMs}ms ` +
    `unreliable=${s.unreliable} workload=${s.workload.kind} snapshotEvery=${s.snapshotEveryEntries} ` +
    `entriesPerMessage=${s.replication.maxEntriesPerMessage}x${s.replication.maxInflightMessages} ` +
    `faults=[${describeFaults(s.nemesis)}]`
  )
}

function readers(fractions: ReadonlyArray<number | null>): string {
  const n = fractions.filter((f) => f !== null).length
  return n === 0 ? '' : `(${n} reader${n === 1 ? '' : 's'})`
}

function replayHint(r: RunResult): string {
  return `replay: pnpm sim${r.scenario.sharded === null ? '' : ' --sharded'} --protocol ${r.scenario.protocol} --seed ${r.scenario.seed}`
}

function fuzz(protocol: Protocol, seeds: number, start: number, verbose: boolean, sharded: boolean): number {
  let failed = 0, unknown = 0, ops = 0, simMs = 0, reconfigured = 0, retired = 0
  const t0 = performance.now()
  for (let seed = start; seed < start + seeds; seed++) {
    const r = runScenario(scenarioFor(seed, protocol, { sharded }))
    ops += r.operations
    simMs += r.simulatedMs
    // Seeds where a membership change was taken by a leader, and replicas removed for good.
    if (r.faults.some((f) => f.startsWith('membership', f.indexOf(' ') + 1) && f.includes('→ index'))) reconfigured++
    retired += r.faults.filter((f) => f.includes(' retire ')).length
    if (r.verdict === 'failed') {
      failed++
      console.log(`FAIL ${describe(r)}\n  ${r.problems.slice(0, 3).join('\n  ').slice(0, 2000)}\n  ${replayHint(r)}`)
    } else if (r.verdict === 'unknown') {
      unknown++
      const why = r.check?.result === 'unknown' ? r.check.reason : 'no verdict'
      console.log(`UNKNOWN ${describe(r)} (linearizability check: ${why})\n  ${replayHint(r)}`)
    } else if (verbose) {
      console.log(`ok ${describe(r)} ops=${r.operations}`)
    }
  }
  const wallS = (performance.now() - t0) / 1000
  console.log(
    `wall=${wallS.toFixed(1)}s operations=${ops} ops_per_wall_s=${Math.round(ops / wallS)} simulated=${(simMs / 1000).toFixed(0)}s`,
  )
  console.log(`membership: seeds_with_changes=${reconfigured} replicas_retired=${retired}`)
  console.log(`seeds=${seeds} failed=${failed} unknown=${unknown}`)
  return failed > 0 ? 1 : 0
}

function replay(protocol: Protocol, seed: number, sharded: boolean): number {
  const r = runScenario(scenarioFor(seed, protocol, { sharded }))
  console.log(describe(r))
  for (const f of r.faults) console.log(`  fault ${f}`)
  console.log(`operations=${r.operations} events=${r.events} simulated=${r.simulatedMs.toFixed(0)}ms verdict=${r.verdict}`)
  for (const p of r.problems) console.log(`  problem: ${p}`)
  console.log(`trace=${r.trace}`)
  return r.verdict === 'failed' ? 1 : 0
}

const program = new Command('sim')
  .description('deterministic cluster simulator and fuzzer')
  .option('--protocol <name>', 'raft or paxos', parseProtocol, 'raft' as Protocol)
  .option('--seeds <n>', 'fuzz this many seeds', parseCount)
  .option('--start <n>', 'first seed of a fuzz run', parseCount, 1)
  .option('--seed <s>', 'replay one seed', parseCount)
  .option('--sharded', 'a controller and 2..4 shard groups, the shard map changed during the run (add, remove, re-add)')
  .option('-v, --verbose', 'print every seed')
  .action((o: { protocol: Protocol; seeds?: number; start: number; seed?: number; verbose?: boolean; sharded?: boolean }) => {
    const sharded = o.sharded === true
    if (o.seed !== undefined) process.exitCode = replay(o.protocol, o.seed, sharded)
    else process.exitCode = fuzz(o.protocol, o.seeds ?? 20, o.start, o.verbose === true, sharded)
  })

program
  .command('demo')
  .description('a short simulated cluster run that prints what happened')
  .option('--protocol <name>', 'raft or paxos', parseProtocol, 'raft' as Protocol)
  .option('--seed <s>', 'seed', parseCount, 7)
  .action((o: { protocol: Protocol; seed: number }) => {
    process.exitCode = runDemo(o.protocol, o.seed)
  })

program.parse()
