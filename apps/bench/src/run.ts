/**
 * One bench run: every stage of the plan in turn (start the system, preload the keys, measure
 * each row, stop it), then the ratios. Returns the result; printing and files are the CLI's.
 */
import { createRng } from '@kv/consensus'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CpuWindow, cpuReport } from './cpu.js'
import { runFailover } from './failover.js'
import type { BenchOptions } from './flags.js'
import { runLoad, type LoadResult } from './load.js'
import { connectionsFor, loadSecondsOf, planStages, rowsOf, type LoadPoint, type Stage } from './plan.js'
import { createProgress, STARTUP_ALLOWANCE_S, type Progress } from './progress.js'
import { checkResult, SCHEMA_ID, type BenchResult, type Row } from './result.js'
import { latencyOf, projectOneCorePerReplica, withRatios } from './stats.js'
import { keepScratchFolders, registerScratch, removeScratch } from './systems/children.js'
import { EtcdCluster, findEtcd } from './systems/etcd.js'
import { KvCluster } from './systems/kv.js'
import { findRedis, RedisServer } from './systems/redis.js'
import type { Connections, RunningSystem } from './systems/system.js'
import { keyOf, valueOf } from './workload.js'
import { bytes, formatRowLine } from './table.js'

/** kv, etcd and redis each take a block of ports from 24000 up (the test suite uses 21000–22700). */
export class PortBlocks {
  #next: number
  constructor(readonly first = 24000, readonly last = 24999, readonly size = 40) {
    this.#next = first
  }
  take(): number {
    if (this.#next + this.size - 1 > this.last) this.#next = this.first
    const port = this.#next
    this.#next += this.size
    return port
  }
}

export interface RunContext {
  o: BenchOptions
  progress: Progress
  ports: PortBlocks
  notes: string[]
  scratch(name: string): string
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const startedAt = new Date()
  const loadAverageAtStart = os.loadavg().map((x) => Math.round(x * 100) / 100)
  keepScratchFolders(o.keep)
  const notes: string[] = []
  const etcdBin = findEtcd()
  const redisBin = findRedis()
  for (const [name, bin, install] of [['etcd', etcdBin, 'etcd-server'], ['redis', redisBin, 'redis-server']] as const) {
    if (!o.compare.includes(name) || bin !== null) continue
    if (o.compareExplicit) throw new Error(`--compare ${name}: ${name} is not installed (apt-get install ${install})`)
    notes.push(`${name} not installed (apt-get install ${install}): no ${name} rows`)
  }
  const stages = planStages(o, { etcd: etcdBin !== null, redis: redisBin !== null })
  const rowsTotal = stages.reduce((a, s) => a + rowsOf(s), 0)
  const plannedSeconds = stages.reduce((a, s) => a + loadSecondsOf(s, o) + STARTUP_ALLOWANCE_S, 0)
  const progress = createProgress(plannedSeconds, rowsTotal, o.progress)
  for (const n of notes) progress.note(`bench: ${n}`)
  const scratchRoot = registerScratch(mkdtempSync(path.join(os.tmpdir(), 'kv-bench-')))
  const ctx: RunContext = {
    o, progress, notes, ports: new PortBlocks(),
    scratch: (name) => mkdtempSync(path.join(scratchRoot, `${name}-`)),
  }
  const rows: Row[] = []
  try {
    for (const stage of stages) rows.push(...(await runStage(stage, ctx, etcdBin, redisBin)))
  } finally {
    progress.stop()
    if (o.keep) process.stderr.write(`bench: data and logs kept in ${scratchRoot}\n`)
    else removeScratch(scratchRoot)
  }
  const finishedAt = new Date()
  const cpus = os.cpus()
  return checkResult({
    schema: SCHEMA_ID,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    wallSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 100) / 10,
    machine: { cores: os.availableParallelism(), cpuModel: cpus[0]?.model.trim() ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}`, loadAverageAtStart },
    settings: {
      quick: o.quick, secondsPerRow: o.seconds, warmupSeconds: o.warmupSeconds, records: o.records, protocols: o.protocols, scenarios: o.scenarios,
      valueBytes: o.valueBytes, concurrency: o.concurrency, groups: o.groups, failover: o.failover, compare: o.compare,
    },
    rows: withRatios(rows),
    notes,
  })
}

function stageLabel(stage: Stage): string {
  switch (stage.kind) {
    case 'kv':
      return `kv ${stage.protocol}${stage.groups > 1 ? ` ×${stage.groups} groups` : ''}`
    case 'failover':
      return `kv ${stage.protocol} failover (${stage.fault})`
    case 'etcd':
      return 'etcd'
    case 'redis':
      return 'redis'
    default: {
      const never: never = stage
      throw new Error(`unknown stage ${JSON.stringify(never)}`)
    }
  }
}

async function runStage(stage: Stage, ctx: RunContext, etcdBin: string | null, redisBin: string | null): Promise<Row[]> {
  ctx.progress.step(`starting ${stageLabel(stage)}`, STARTUP_ALLOWANCE_S)
  switch (stage.kind) {
    case 'kv': {
      const dir = ctx.scratch(`kv-${stage.protocol}-g${stage.groups}`)
      const cluster = await KvCluster.start({ dir, protocol: stage.protocol, groups: stage.groups, basePort: ctx.ports.take() })
      try {
        return await measurePoints(cluster, stage.points, ctx)
      } finally {
        await cluster.stop()
      }
    }
    case 'failover':
      return [await runFailover(stage, ctx)]
    case 'etcd': {
      const etcd = await EtcdCluster.start(etcdBin!, ctx.scratch('etcd'), ctx.ports.take())
      try {
        const rows = await measurePoints(etcd.grpc(), stage.points, ctx)
        // Same cluster, same keys: the gateway rows find them loaded (the last value size's values, as the gRPC rows left them).
        const last = stage.points.at(-1)?.valueBytes
        const loaded = new Set(last === undefined ? [] : [last])
        if (stage.gatewayPoints.length > 0) rows.push(...(await measurePoints(etcd.gateway(), stage.gatewayPoints, ctx, loaded)))
        return rows
      } finally {
        await etcd.stop()
      }
    }
    case 'redis': {
      const redis = await RedisServer.start(redisBin!, ctx.scratch('redis'), ctx.ports.take())
      try {
        return await measurePoints(redis, stage.points, ctx)
      } finally {
        await redis.stop()
      }
    }
    default: {
      const never: never = stage
      throw new Error(`unknown stage ${JSON.stringify(never)}`)
    }
  }
}

/** Keys per preloading call where the system takes many at once (under etcd's 128 operations per txn). */
const PRELOAD_CHUNK = 100

/** Every key written once with this value size (not measured): chunks where the driver takes many, else single puts. */
export async function preload(drivers: Connections['drivers'], records: number, value: Uint8Array): Promise<void> {
  const many = drivers[0]?.putMany !== undefined
  const step = many ? PRELOAD_CHUNK : 1
  let next = 0
  const take = () => {
    const first = next
    next += step
    return first
  }
  await Promise.all(Array.from({ length: many ? 8 : 64 }, async (_, w) => {
    const d = drivers[w % drivers.length]!
    for (let i = take(); i < records; i = take()) {
      const keys = Array.from({ length: Math.min(i + step, records) - i }, (_, j) => keyOf(i + j))
      await (d.putMany === undefined ? d.put(keys[0]!, value) : d.putMany(keys, value))
    }
  }))
}

async function measurePoints(system: RunningSystem, points: readonly LoadPoint[], ctx: RunContext, preloaded: ReadonlySet<number> = new Set()): Promise<Row[]> {
  const conns = await system.connect(Math.max(...points.map((p) => connectionsFor(p.concurrency))))
  const rows: Row[] = []
  try {
    let loaded: number | null = null
    let value: Uint8Array = new Uint8Array(0)
    for (const p of points) {
      if (loaded !== p.valueBytes) {
        value = valueOf(p.valueBytes, createRng(p.valueBytes))
        if (!preloaded.has(p.valueBytes)) {
          ctx.progress.step(`${system.info.label}: preloading ${ctx.o.records.toLocaleString('en-US')} keys of ${bytes(p.valueBytes)}`, 0)
          await preload(conns.drivers, ctx.o.records, value)
        }
        loaded = p.valueBytes
      }
      const label = `${system.info.label} ${p.scenario} ${p.valueBytes} B c=${p.concurrency}`
      ctx.progress.step(label, ctx.o.seconds + ctx.o.warmupSeconds)
      const row = await measureRow(system, conns.drivers.slice(0, connectionsFor(p.concurrency)), p, value, ctx)
      rows.push(row)
      ctx.progress.row(formatRowLine(row))
    }
  } finally {
    await conns.close()
  }
  return rows
}

export async function measureRow(
  system: RunningSystem,
  drivers: Connections['drivers'],
  p: LoadPoint,
  value: Uint8Array,
  ctx: RunContext,
  extra: { measureMs?: number; event?: { atMs: number; run: () => Promise<void> }; type?: Row['type']; onResult?: (r: LoadResult) => void } = {},
): Promise<Row> {
  let window: CpuWindow | null = null
  let cpu: ReturnType<CpuWindow['stop']> | null = null
  const measureMs = extra.measureMs ?? ctx.o.seconds * 1000
  const result = await runLoad({
    scenario: p.scenario, concurrency: p.concurrency, drivers, records: ctx.o.records, value,
    warmupMs: ctx.o.warmupSeconds * 1000, measureMs, seed: p.concurrency * 31 + p.valueBytes,
    ...(extra.event === undefined ? {} : { event: extra.event }),
    onMeasureStart: () => (window = new CpuWindow(system.processes())),
    onMeasureEnd: () => (cpu = window!.stop()),
    onProgress: (elapsedMs, ops) => {
      const measured = Math.max(0, elapsedMs / 1000 - ctx.o.warmupSeconds)
      ctx.progress.update(elapsedMs / 1000, measured > 0.2 ? `${Math.round(ops / measured).toLocaleString('en-US')} ops/s` : 'warming up')
    },
  })
  extra.onResult?.(result)
  const roles = await system.roles()
  const cpuRow = cpuReport(cpu!, (name) => roles.get(name) ?? 'unknown')
  noteErrors(ctx, system, p, result)
  const opsPerSecond = Math.round(result.ops / result.seconds)
  return {
    id: `${system.info.id}/${p.scenario}/${p.valueBytes}/c${p.concurrency}`,
    type: extra.type ?? 'load',
    system: system.info,
    scenario: p.scenario,
    valueBytes: p.valueBytes,
    concurrency: p.concurrency,
    seconds: Math.round(result.seconds * 1000) / 1000,
    ops: result.ops,
    errors: result.errors,
    opsPerSecond,
    latencyMs: latencyOf(result.all),
    latencyByOpMs: {
      ...(p.scenario === 'mixed' || p.scenario === 'ycsb-a' ? opLatencies(result) : {}),
    },
    cpu: cpuRow,
    projectedOpsPerSecondOneCorePerReplica: system.info.product === 'kv' ? projectOneCorePerReplica(opsPerSecond, cpuRow.busiestServerCores) : null,
    ratio: {},
  }
}

function opLatencies(r: LoadResult): Row['latencyByOpMs'] {
  const read = latencyOf(r.read)
  const write = latencyOf(r.write)
  return { ...(read === null ? {} : { read }), ...(write === null ? {} : { write }) }
}

function noteErrors(ctx: RunContext, system: RunningSystem, p: LoadPoint, r: LoadResult): void {
  if (r.errors === 0) return
  const kinds = [...r.errorKinds.entries()].map(([k, n]) => `${n}× ${k}`).join('; ')
  const note = `${system.info.label} ${p.scenario} ${p.valueBytes} B c=${p.concurrency}: ${r.errors} failed calls (${kinds})`
  ctx.notes.push(note)
}
