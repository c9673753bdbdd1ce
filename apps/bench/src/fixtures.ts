/** Test fixtures: rows and results shaped as a run makes them, with the figures a test picks. */
import { kvSystemInfo } from './systems/kv.js'
import { SCHEMA_ID, type BenchResult, type Row, type Scenario, type SystemInfo } from './result.js'

export const etcdInfo: SystemInfo = { id: 'etcd', label: 'etcd 3.4 (gRPC)', product: 'etcd', client: 'etcd3', version: '3.4.23' }
export const gatewayInfo: SystemInfo = { id: 'etcd-gateway', label: 'etcd (v3 JSON gateway)', product: 'etcd', client: 'node:http, v3 JSON gateway', version: '3.4.23' }
export const redisInfo: SystemInfo = { id: 'redis', label: 'redis 7.0 (AOF, fsync always)', product: 'redis', client: 'redis (node-redis)', version: '7.0.15' }
export const raftInfo = kvSystemInfo('raft', 1)
export const paxosInfo = kvSystemInfo('paxos', 1)

export function row(system: SystemInfo, o: { scenario?: Scenario; valueBytes?: number; concurrency?: number; opsPerSecond: number; p99?: number }): Row {
  const scenario = o.scenario ?? 'write'
  const valueBytes = o.valueBytes ?? 100
  const concurrency = o.concurrency ?? 64
  const p99 = o.p99 ?? 12
  const server = system.product === 'kv' ? ['g1-r1', 'g1-r2', 'g1-r3'] : system.product === 'etcd' ? ['etcd-1', 'etcd-2', 'etcd-3'] : ['redis-server']
  return {
    id: `${system.id}/${scenario}/${valueBytes}/c${concurrency}`,
    type: 'load',
    system,
    scenario,
    valueBytes,
    concurrency,
    seconds: 5,
    ops: o.opsPerSecond * 5,
    errors: 0,
    opsPerSecond: o.opsPerSecond,
    latencyMs: { p50: p99 / 3, p90: p99 / 1.5, p99, p999: p99 * 1.5, max: p99 * 2, mean: p99 / 2.5 },
    latencyByOpMs: {},
    cpu: {
      machineCores: 2,
      serverCores: 0.3 * server.length,
      busiestServer: server[0]!,
      busiestServerCores: 0.5,
      loadGeneratorCores: 0.4,
      otherCores: 0.1,
      machineShare: (0.3 * server.length + 0.4) / 2,
      processes: [
        ...server.map((name, i) => ({ name, pid: 1000 + i, role: i === 0 ? 'leader' : 'follower', cores: i === 0 ? 0.5 : 0.2 })),
        { name: 'load-generator', pid: 999, role: 'load-generator', cores: 0.4 },
      ],
    },
    projectedOpsPerSecondOneCorePerReplica: system.product === 'kv' ? o.opsPerSecond * 2 : null,
    ratio: {},
  }
}

export function failoverRow(): Row {
  const base = row(raftInfo, { opsPerSecond: 9000 })
  const timeline = Array.from({ length: 100 }, (_, i) => (i >= 30 && i < 42 ? 0 : 1000))
  return {
    ...base,
    id: `${base.id}/sigkill`,
    type: 'failover',
    seconds: 10,
    failover: {
      fault: 'sigkill', victim: 'g1-r1', newLeader: 'g1-r2', faultAtSeconds: 3, preFaultOpsPerSecond: 10_000,
      longestGapMs: 1200, recoverySeconds: 1.2, bucketMs: 100, timeline,
    },
  }
}

export function result(rows: Row[]): BenchResult {
  return {
    schema: SCHEMA_ID,
    startedAt: '2026-12-07T19:00:00.000Z',
    finishedAt: '2026-12-07T19:02:00.000Z',
    wallSeconds: 120,
    machine: { cores: 2, cpuModel: 'test CPU', node: 'v20.20.2', platform: 'linux 6.1', loadAverageAtStart: [1.5, 1.2, 1] },
    settings: {
      quick: true, secondsPerRow: 5, warmupSeconds: 0.5, records: 10_000, protocols: ['raft', 'paxos'], scenarios: ['write', 'read', 'ycsb-a'],
      valueBytes: [100], concurrency: [64, 256], groups: [1], failover: ['sigkill'], compare: ['etcd', 'redis'],
    },
    rows,
    notes: [],
  }
}
