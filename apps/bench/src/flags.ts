/**
 * The flags of `pnpm bench`, parsed and checked here (pure: no cluster is started), so a bad
 * value fails at once with a message that names it, before minutes of work.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { comparators, faults, protocols, scenarios, type Comparator, type Fault, type Protocol, type Scenario } from './result.js'

export interface BenchOptions {
  protocols: Protocol[]
  scenarios: Scenario[]
  valueBytes: number[]
  concurrency: number[]
  seconds: number
  warmupSeconds: number
  records: number
  groups: number[]
  failover: Fault[]
  /** Protocols whose failover rows run (--quick: the first only). */
  failoverProtocols: Protocol[]
  compare: Comparator[]
  /** Comparators asked for by name (fail when missing) rather than by default (skipped with a note). */
  compareExplicit: boolean
  json: string | null
  html: string | null
  quick: boolean
  keep: boolean
  progress: boolean
  printJsonSchema: boolean
  /** Print the report of a saved --json result (and write --html) instead of running. */
  fromJson: string | null
}

/** The ordinary run: every scenario, both value sizes, four concurrencies, both protocols. */
const fullDefaults = {
  protocol: ['raft', 'paxos'],
  scenario: [...scenarios],
  valueBytes: [100, 4096],
  concurrency: [1, 16, 64, 256],
  seconds: 10,
  warmup: 1,
  groups: [1],
  failover: [] as Fault[],
  compare: ['etcd', 'redis'],
}

/** --quick: about two minutes, comparators included. */
export const quickPreset = {
  protocol: ['raft', 'paxos'],
  scenario: ['write', 'read', 'ycsb-a'],
  valueBytes: [100],
  concurrency: [64, 256],
  seconds: 3,
  warmup: 0.5,
  groups: [1],
  failover: ['sigkill'] as Fault[],
  compare: ['etcd', 'redis'],
}

export class BenchUsageError extends Error {
  readonly code = 'BENCH_USAGE'
}

const listOf = <T extends string>(what: string, allowed: readonly T[]) => (v: string, prev: T[] | undefined): T[] => {
  const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (items.length === 0) throw new InvalidArgumentError(`expected one or more of ${allowed.join(', ')}`)
  for (const x of items) if (!(allowed as readonly string[]).includes(x)) throw new InvalidArgumentError(`unknown ${what} "${x}" (expected ${allowed.join(', ')})`)
  return [...new Set([...(prev ?? []), ...(items as T[])])]
}

const intList = (min: number, max: number) => (v: string, prev: number[] | undefined): number[] => {
  const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number)
  if (items.length === 0 || items.some((n) => !Number.isInteger(n) || n < min || n > max)) {
    throw new InvalidArgumentError(`expected integers from ${min} to ${max}, comma-separated`)
  }
  return [...new Set([...(prev ?? []), ...items])].sort((a, b) => a - b)
}

const number = (min: number, max: number) => (v: string): number => {
  const n = Number(v)
  if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}`)
  return n
}

const int = (min: number, max: number) => (v: string): number => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`)
  return n
}

const compareList = (v: string, prev: Comparator[] | undefined): Comparator[] => (v === 'none' ? [] : listOf('comparator', comparators)(v, prev))
const faultList = (v: string, prev: Fault[] | undefined): Fault[] => listOf('fault', faults)(v, prev)

export function benchCommand(): Command {
  return new Command('bench')
    .description('throughput and latency of real kv clusters on this machine, beside etcd and redis under the same load')
    .option('--quick', 'a preset of about two minutes: raft+paxos, write/read/ycsb-a, 100 B, c=64 and 256, 3 s rows, one failover row, etcd and redis')
    // Lists: comma-separated or space-separated (--protocol raft,paxos or --protocol raft paxos).
    .option('--protocol <list...>', 'raft,paxos', listOf('protocol', protocols))
    .option('--scenario <list...>', `${scenarios.join(',')}`, listOf('scenario', scenarios))
    .option('--value-bytes <list...>', 'value sizes in bytes, e.g. 100,4096', intList(1, 1024 * 1024))
    .option('--concurrency <list...>', 'calls in flight, e.g. 1,16,64,256', intList(1, 4096))
    .option('--seconds <s>', 'measured seconds per row', number(0.5, 3600))
    .option('--warmup <s>', 'unmeasured seconds before each row', number(0, 600))
    .option('--records <n>', 'keys preloaded and addressed by the load', int(2, 10_000_000), 10_000)
    .option('--groups <list...>', 'shard groups, e.g. 1,2,4 (more than one: a controller too; those rows run each scenario at the highest concurrency)', intList(1, 16))
    .addOption(new Option('--failover [faults]', 'failover rows: sigkill, iptables (both when no value is given)').argParser(faultList))
    .option('--compare <list...>', 'comparators: etcd,redis, or none', compareList)
    .option('--json <file>', 'write the result as JSON (schema: apps/bench/result.schema.json)')
    .option('--html <file>', 'write a self-contained HTML report with charts')
    .option('--from-json <file>', 'run nothing: print the table of a saved --json result (and write --html from it)')
    .option('--keep', 'keep the scratch folders (data and logs of every server)')
    .option('--no-progress', 'no progress bar (it is off anyway when stderr is not a terminal)')
    .addOption(new Option('--print-json-schema', 'print the JSON schema of --json and exit').hideHelp())
    .showHelpAfterError()
}

interface RawFlags {
  quick?: boolean
  protocol?: Protocol[]
  scenario?: Scenario[]
  valueBytes?: number[]
  concurrency?: number[]
  seconds?: number
  warmup?: number
  records: number
  groups?: number[]
  failover?: Fault[] | true
  compare?: Comparator[]
  json?: string
  html?: string
  keep?: boolean
  progress: boolean
  printJsonSchema?: boolean
  fromJson?: string
}

/** The options `f` (commander's) mean, with --quick's preset under whatever was given explicitly. */
export function resolveOptions(f: RawFlags): BenchOptions {
  const base = f.quick === true ? quickPreset : fullDefaults
  const failover = f.failover === true ? [...faults] : f.failover ?? base.failover
  const protocolsChosen = (f.protocol ?? base.protocol) as Protocol[]
  return {
    protocols: protocolsChosen,
    scenarios: (f.scenario ?? base.scenario) as Scenario[],
    valueBytes: f.valueBytes ?? base.valueBytes,
    concurrency: f.concurrency ?? base.concurrency,
    seconds: f.seconds ?? base.seconds,
    warmupSeconds: f.warmup ?? base.warmup,
    records: f.records,
    groups: f.groups ?? base.groups,
    failover,
    failoverProtocols: f.quick === true && f.failover === undefined ? protocolsChosen.slice(0, 1) : protocolsChosen,
    compare: (f.compare ?? base.compare) as Comparator[],
    compareExplicit: f.compare !== undefined,
    json: f.json ?? null,
    html: f.html ?? null,
    quick: f.quick === true,
    keep: f.keep === true,
    progress: f.progress,
    printJsonSchema: f.printJsonSchema === true,
    fromJson: f.fromJson ?? null,
  }
}

/** Parses argv (without node and script); throws BenchUsageError with commander's message on bad flags. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const cmd = benchCommand().exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined })
  try {
    cmd.parse([...argv], { from: 'user' })
  } catch (e) {
    if (e instanceof CommanderError) throw new BenchUsageError(e.message.replace(/^error: /, ''))
    throw e
  }
  return resolveOptions(cmd.opts<RawFlags>())
}
