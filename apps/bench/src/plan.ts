/**
 * What a run will do, decided before anything starts: one stage per system started (a kv
 * cluster, a failover cluster, etcd, redis), each with the load points it measures.
 */
import type { BenchOptions } from './flags.js'
import type { Fault, Protocol, Scenario } from './result.js'

export interface LoadPoint {
  scenario: Scenario
  valueBytes: number
  concurrency: number
}

export type Stage =
  | { kind: 'kv'; protocol: Protocol; groups: number; points: LoadPoint[] }
  | { kind: 'failover'; protocol: Protocol; fault: Fault; point: LoadPoint }
  | { kind: 'etcd'; points: LoadPoint[]; gatewayPoints: LoadPoint[] }
  | { kind: 'redis'; points: LoadPoint[] }

/** A failover row: writes for FAILOVER_MEASURE_MS, the fault at FAILOVER_FAULT_AT_MS. */
export const FAILOVER_FAULT_AT_MS = 3000
export const FAILOVER_MEASURE_MS = 10_000
export const FAILOVER_CONCURRENCY = 64
/** The timeline's resolution (the load generator's default bucket). */
export const FAILOVER_BUCKET_MS = 100
/** One client (connection set) per this many calls in flight, for every system alike. */
export const CALLS_PER_CONNECTION = 16

export const connectionsFor = (concurrency: number): number => Math.ceil(concurrency / CALLS_PER_CONNECTION)

/** Every scenario × value size × concurrency, value size outermost (the keys are preloaded once per size). */
export function matrix(o: Pick<BenchOptions, 'scenarios' | 'valueBytes' | 'concurrency'>): LoadPoint[] {
  return o.valueBytes.flatMap((valueBytes) => o.scenarios.flatMap((scenario) => o.concurrency.map((concurrency) => ({ scenario, valueBytes, concurrency }))))
}

export function planStages(o: BenchOptions, available: { etcd: boolean; redis: boolean }): Stage[] {
  const points = matrix(o)
  const stages: Stage[] = []
  const topConcurrency = Math.max(...o.concurrency)
  for (const groups of o.groups) {
    for (const protocol of o.protocols) {
      // More groups: the scaling rows, each scenario at the highest concurrency and the first value size.
      const ps = groups === 1 ? points : o.scenarios.map((scenario) => ({ scenario, valueBytes: o.valueBytes[0]!, concurrency: topConcurrency }))
      stages.push({ kind: 'kv', protocol, groups, points: ps })
    }
  }
  for (const protocol of o.failoverProtocols) {
    for (const fault of o.failover) {
      stages.push({ kind: 'failover', protocol, fault, point: { scenario: 'write', valueBytes: o.valueBytes[0]!, concurrency: FAILOVER_CONCURRENCY } })
    }
  }
  if (o.compare.includes('etcd') && available.etcd) {
    // The JSON gateway keeps the rows it always had: puts and gets, 64 in flight (or the nearest below), the first value size.
    const gatewayConcurrency = o.concurrency.filter((c) => c <= 64).pop() ?? o.concurrency[0]!
    const gatewayPoints = o.scenarios
      .filter((s) => s === 'write' || s === 'read')
      .map((scenario) => ({ scenario, valueBytes: o.valueBytes[0]!, concurrency: gatewayConcurrency }))
    stages.push({ kind: 'etcd', points, gatewayPoints })
  }
  if (o.compare.includes('redis') && available.redis) stages.push({ kind: 'redis', points })
  return stages
}

export function rowsOf(stage: Stage): number {
  switch (stage.kind) {
    case 'kv':
    case 'redis':
      return stage.points.length
    case 'etcd':
      return stage.points.length + stage.gatewayPoints.length
    case 'failover':
      return 1
    default: {
      const never: never = stage
      throw new Error(`unknown stage ${JSON.stringify(never)}`)
    }
  }
}

/** Seconds of load a stage runs (warm-ups included, start-up and preloading not). */
export function loadSecondsOf(stage: Stage, o: Pick<BenchOptions, 'seconds' | 'warmupSeconds'>): number {
  if (stage.kind === 'failover') return o.warmupSeconds + FAILOVER_MEASURE_MS / 1000
  return rowsOf(stage) * (o.seconds + o.warmupSeconds)
}
