/**
 * What `pnpm bench --json FILE` writes: one object, checked against this schema before it is
 * written. `result.schema.json` beside the package is this schema as JSON Schema (draft
 * 2020-12), regenerated with `pnpm bench --print-json-schema`; a test keeps the two equal.
 */
import { z } from 'zod'

export const SCHEMA_ID = 'kv-bench/1'

export const scenarios = ['write', 'read', 'mixed', 'ycsb-a'] as const
export type Scenario = (typeof scenarios)[number]
export const protocols = ['raft', 'paxos'] as const
export type Protocol = (typeof protocols)[number]
export const comparators = ['etcd', 'redis'] as const
export type Comparator = (typeof comparators)[number]
export const faults = ['sigkill', 'iptables'] as const
export type Fault = (typeof faults)[number]

const ms = z.number().nonnegative()

export const latencySchema = z
  .object({ p50: ms, p90: ms, p99: ms, p999: ms, max: ms, mean: ms })
  .describe('Latency of completed calls in milliseconds, from an HDR histogram (3 significant digits).')
export type Latency = z.infer<typeof latencySchema>

export const systemSchema = z.object({
  id: z.string().describe('Stable id: kv-raft-g1, kv-paxos-g2, etcd, etcd-gateway, redis'),
  label: z.string().describe('What the table prints, e.g. "kv Raft", "etcd (v3 JSON gateway)"'),
  product: z.enum(['kv', 'etcd', 'redis']),
  protocol: z.enum(protocols).optional().describe('kv only'),
  groups: z.number().int().positive().optional().describe('kv only: shard groups (more than one adds a controller group)'),
  client: z.string().describe('The client library the load generator drives it through'),
  version: z.string().optional(),
})
export type SystemInfo = z.infer<typeof systemSchema>

export const processCpuSchema = z.object({
  name: z.string().describe('Replica id (g1-r1, ctl-r2), etcd member name, "redis-server" or "load-generator"'),
  pid: z.number().int(),
  role: z.string().describe('leader, follower, member, server or load-generator (as seen at the end of the row)'),
  cores: z.number().nonnegative().describe('CPU seconds (user + system) per wall second over the measured window'),
})

export const cpuSchema = z.object({
  machineCores: z.number().int().positive(),
  serverCores: z.number().nonnegative().describe('Sum of cores over the system\'s own processes'),
  busiestServer: z.string().describe('The server process that used the most CPU'),
  busiestServerCores: z.number().nonnegative(),
  loadGeneratorCores: z.number().nonnegative().describe('The bench process itself (every client runs in it)'),
  otherCores: z.number().nonnegative().nullable().describe('Cores busy with everything else on the machine during the window (/proc/stat less the above): others\' work'),
  machineShare: z.number().nonnegative().describe('(serverCores + loadGeneratorCores) ÷ machineCores: near 1, the row is bound by this machine\'s CPU'),
  processes: z.array(processCpuSchema),
})
export type CpuReport = z.infer<typeof cpuSchema>

export const failoverSchema = z.object({
  fault: z.enum(faults).describe('sigkill: the leader is killed; iptables: every packet between the leader and its peers is dropped (clients still reach it)'),
  victim: z.string().describe('The replica that led when the fault struck'),
  newLeader: z.string().nullable().describe('The replica leading at the end of the row'),
  faultAtSeconds: z.number().nonnegative().describe('When the fault struck, seconds after the measured window began'),
  preFaultOpsPerSecond: z.number().nonnegative(),
  longestGapMs: ms.describe('Longest time between two consecutive acknowledged writes in the measured window'),
  recoverySeconds: z.number().nonnegative().nullable().describe(
    'From the fault to the start of the first 500 ms window whose throughput is ≥ 90 % of the pre-fault throughput; null if none before the row ended',
  ),
  bucketMs: z.number().int().positive(),
  timeline: z.array(z.number().int().nonnegative()).describe('Acknowledged writes per bucket, from the start of the measured window'),
})
export type FailoverReport = z.infer<typeof failoverSchema>

export const rowSchema = z.object({
  id: z.string().describe('Unique in the result: <system id>/<scenario>/<value bytes>/c<concurrency>[/<fault>]'),
  type: z.enum(['load', 'failover']),
  system: systemSchema,
  scenario: z.enum(scenarios),
  valueBytes: z.number().int().positive(),
  concurrency: z.number().int().positive().describe('Calls in flight (closed loop)'),
  seconds: z.number().positive().describe('Length of the measured window'),
  ops: z.number().int().nonnegative().describe('Calls completed in the measured window'),
  errors: z.number().int().nonnegative().describe('Calls that failed in the measured window (not in ops or latency)'),
  opsPerSecond: z.number().nonnegative(),
  latencyMs: latencySchema.nullable().describe('null when no call completed'),
  latencyByOpMs: z.object({ read: latencySchema.optional(), write: latencySchema.optional() }).describe('mixed and ycsb-a: reads and writes apart'),
  cpu: cpuSchema,
  projectedOpsPerSecondOneCorePerReplica: z.number().nonnegative().nullable().describe(
    'kv only: opsPerSecond ÷ busiestServerCores, what the row would do if each replica had a core of its own and CPU were the only bound',
  ),
  ratio: z.record(z.string(), z.number().nonnegative()).describe(
    'kv rows: kv ops/s ÷ the comparator\'s for the same scenario, value size and concurrency, keyed by the comparator\'s system id',
  ),
  failover: failoverSchema.optional(),
})
export type Row = z.infer<typeof rowSchema>

export const resultSchema = z.object({
  schema: z.literal(SCHEMA_ID),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  wallSeconds: z.number().nonnegative(),
  machine: z.object({
    cores: z.number().int().positive(),
    cpuModel: z.string(),
    node: z.string(),
    platform: z.string(),
    loadAverageAtStart: z.array(z.number()).describe('1, 5 and 15 minute load averages when the run began: others\' work on the machine'),
  }),
  settings: z.object({
    quick: z.boolean(),
    secondsPerRow: z.number().positive(),
    warmupSeconds: z.number().nonnegative(),
    records: z.number().int().positive().describe('Keys preloaded and addressed by the load'),
    protocols: z.array(z.enum(protocols)),
    scenarios: z.array(z.enum(scenarios)),
    valueBytes: z.array(z.number().int().positive()),
    concurrency: z.array(z.number().int().positive()),
    groups: z.array(z.number().int().positive()),
    failover: z.array(z.enum(faults)),
    compare: z.array(z.enum(comparators)),
  }),
  rows: z.array(rowSchema),
  notes: z.array(z.string()).describe('What was skipped and why (a comparator not installed, iptables not usable)'),
})
export type BenchResult = z.infer<typeof resultSchema>

/** The schema as JSON Schema, what result.schema.json holds. */
export function jsonSchema(): unknown {
  return { title: 'pnpm bench --json result', ...z.toJSONSchema(resultSchema) }
}

/** Throws a readable error naming the first bad field. */
export function checkResult(value: unknown): BenchResult {
  const r = resultSchema.safeParse(value)
  if (r.success) return r.data
  const first = r.error.issues[0]
  throw new Error(`bench result does not match its schema: ${first === undefined ? r.error.message : `${first.path.join('.')}: ${first.message}`}`)
}
