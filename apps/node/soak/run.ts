/**
 * One soak run for one protocol: a cluster of real `kv node`s on their own loopback addresses,
 * the clients, the nemesis (and, sharded, the spare group added and removed), a quiet period,
 * then the history checked, every group's replicas compared, the write gaps measured.
 *
 * Imports the process-test harness, which fixes at load how `kv` is started: the CLI
 * (cli.ts) sets KV_TEST_CLI to a bundle of the sources before it loads this module.
 */
import { BadRequestError, createClient, type KvClient } from '@kv/client'
import { createRng } from '@kv/consensus'
import { allGroups, type GroupSpec } from '@kv/protocol'
import { HistoryRecorder, type KvOperation } from '@kv/sim'
import { rmSync } from 'node:fs'
import type { ClusterLinks, Firewall } from '../test/firewall.js'
import { errorCode, ProcessCluster, sleep, waitFor } from '../test/harness.js'
import { checkHistory } from './check.js'
import { noFault, writeGaps, type FaultSpan } from './gaps.js'
import {
  adminCallTimeoutMs, convergeTimeoutMs, migrationEveryMs, quietMaxMs, quietMinMs, settleTimeoutMs, warmupMs,
} from './limits.js'
import { SoakLoad, type LoadCounts } from './load.js'
import { Nemesis } from './nemesis.js'
import { drawSchedule, faultKinds } from './schedule.js'
import type { FaultRow, GroupDigests, Migration, ReplicaDigest, RunSummary } from './summary.js'

export interface SoakOptions {
  readonly protocol: 'raft' | 'paxos'
  readonly sharded: boolean
  readonly minutes: number
  readonly seed: number
  readonly clients: number
  /** f of every group. */
  readonly f: number
  readonly keep: boolean
  readonly basePort: number
  readonly hostGroup: number
  readonly log: (line: string) => void
}

/** The run's phases, in ms from the start of the load. */
export function timeline(minutes: number): { totalMs: number; quietMs: number; phaseMs: number } {
  const totalMs = Math.round(minutes * 60_000)
  const quietMs = Math.round(Math.min(quietMaxMs, Math.max(quietMinMs, totalMs * 0.1)))
  return { totalMs, quietMs, phaseMs: totalMs - warmupMs - quietMs }
}

/** Data folders to remove if the process exits mid-run (Ctrl-C), unless --keep. */
const folders = new Set<string>()
process.once('exit', () => {
  for (const dir of folders) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
    } catch (e) {
      console.error(`could not remove ${dir}: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
})

interface Run {
  readonly o: SoakOptions
  readonly cluster: ProcessCluster
  readonly links: ClusterLinks
  readonly probe: KvClient
  /** Add and remove the spare group (sharded). */
  readonly admin: KvClient
  readonly groups: ReadonlyMap<string, readonly string[]>
  readonly layout: string
}

interface Driven {
  readonly history: HistoryRecorder
  readonly nemesis: Nemesis
  readonly counts: LoadCounts
  readonly finalReads: { ok: number; failed: number }
  /** performance.now() when the load began: t=0 of the run's clock. */
  readonly t0: number
  readonly loadEndMs: number
  readonly migrations: readonly Migration[]
}

export async function soak(firewall: Firewall, o: SoakOptions): Promise<RunSummary> {
  const cluster = ProcessCluster.start({
    name: `soak-${o.protocol}${o.sharded ? '-sharded' : ''}`, basePort: o.basePort, protocol: o.protocol, f: o.f, hostGroup: o.hostGroup,
    groups: o.sharded ? 2 : 1, spare: o.sharded ? 1 : 0,
  })
  if (!o.keep) folders.add(cluster.dir)
  const links = firewall.links(cluster)
  const probe = createClient({ config: cluster.config, timeoutMs: 2000 })
  const admin = createClient({ config: cluster.config, timeoutMs: adminCallTimeoutMs })
  const groups = new Map(allGroups(cluster.config).map((g) => [g.id, g.replicas.map((r) => r.id)] as const))
  const layout = o.sharded
    ? `${[...groups.keys()].slice(0, -1).join(', ')} + spare ${[...groups.keys()].at(-1)}, ${2 * o.f + 1} replicas each (f=${o.f})`
    : `1 group × ${2 * o.f + 1} replicas (f=${o.f})`
  const run: Run = { o, cluster, links, probe, admin, groups, layout }
  let keepDir = o.keep
  // Set once the load starts: its monitor is stopped however the run ends.
  const started: { nemesis: Nemesis | null } = { nemesis: null }
  try {
    const driven = await drive(run, started)
    const summary = await conclude(run, driven)
    keepDir ||= !summary.pass
    return { ...summary, dataDir: keepDir ? cluster.dir : null }
  } catch (e) {
    keepDir = true
    o.log(`the run failed; replica logs:\n${cluster.logTails(20)}`)
    throw e
  } finally {
    started.nemesis?.stopMonitor()
    await Promise.all([probe.close(), admin.close()])
    links.release()
    await cluster.stop({ keepDir })
    folders.delete(cluster.dir)
  }
}

/** Load, nemesis and (sharded) migrations until the end of the run; then every key read once more. */
async function drive(run: Run, started: { nemesis: Nemesis | null }): Promise<Driven> {
  const { o, cluster, links, probe, admin, groups } = run
  const { totalMs, quietMs, phaseMs } = timeline(o.minutes)
  o.log(`== soak ${o.protocol}${o.sharded ? ' sharded' : ''}: ${o.minutes} min, seed ${o.seed}, ${run.layout}, ${o.clients} clients, ports ${o.basePort}+, 127.0.${o.hostGroup}.x, data ${cluster.dir} ==`)
  for (const g of groups.keys()) await cluster.waitForLeader({ group: g, timeoutMs: 60_000 })

  const rng = createRng(o.seed)
  const schedule = drawSchedule(rng.fork(), { phaseMs, groups: [...groups.keys()] })
  const history = new HistoryRecorder()
  const t0 = performance.now()
  const now = () => performance.now() - t0
  const log = (line: string) => o.log(line)
  const f = new Map(allGroups(cluster.config).map((g) => [g.id, (g.replicas.length - 1) >> 1] as const))
  const nemesis = new Nemesis({ cluster, links, probe, groups, f, log, now, maxActiveFaults: Math.min(3, [...f.values()].reduce((a, b) => a + b, 0)) })
  started.nemesis = nemesis
  const epochMs = Date.now()
  o.log(`t=0.0s load starts (${new Date(epochMs).toISOString()}, ${epochMs} in the replicas' log times); ${schedule.length} faults drawn over t=${(warmupMs / 1000).toFixed(1)}s..${((warmupMs + phaseMs) / 1000).toFixed(1)}s, then ${(quietMs / 1000).toFixed(0)} s quiet`)
  const load = new SoakLoad({ config: cluster.config, clients: o.clients, history, rng: rng.fork(), sharded: o.sharded })
  nemesis.startMonitor()
  const spare = o.sharded ? cluster.config.groups.at(-1)! : null
  const migrations = spare === null ? Promise.resolve([]) : toggleSpare(admin, spare, migrationTimes(phaseMs), { now, log, deadlineMs: totalMs, anomalies: nemesis.anomalies })

  await nemesis.play(schedule, warmupMs)
  await nemesis.healAll()
  o.log(`t=${(now() / 1000).toFixed(1)}s every fault healed (${nemesis.spans.length} ran, ${nemesis.skipped.length} skipped: bound); quiet until t=${(totalMs / 1000).toFixed(1)}s`)
  const done = await migrations
  await sleep(totalMs - now())
  const loadEndMs = now()
  await load.stop()
  o.log(`t=${(now() / 1000).toFixed(1)}s load stopped; reading every key once more`)
  const finalReads = await SoakLoad.readAll(cluster.config, history, o.clients + 1)
  return { history, nemesis, counts: load.counts, finalReads, t0, loadEndMs, migrations: done }
}

/** After the load: (sharded) the migrations settled, the replicas compared, the history checked, the gaps measured. */
async function conclude(run: Run, d: Driven): Promise<Omit<RunSummary, 'dataDir'>> {
  const { o, cluster, probe, admin, groups } = run
  const { nemesis, counts, finalReads } = d
  if (o.sharded) await settle(cluster, admin, nemesis.anomalies)
  const digests = await compareDigests(cluster, probe, [...groups.keys()])
  nemesis.stopMonitor()
  const spare = o.sharded ? cluster.config.groups.at(-1)! : null
  for (const r of digests.find((g) => g.group === spare?.id)?.replicas ?? []) {
    if (r.keys !== null && r.keys !== 0) nemesis.anomalies.push(`${r.id} of ${spare!.id} (removed from the map) still holds ${r.keys} keys`)
  }

  const ops = d.history.operations()
  o.log(`checking ${ops.length} ops for linearizability...`)
  const checked = checkHistory(ops, cluster.dir)
  const digestsEqual = digests.every((g) => g.equal)
  return {
    protocol: o.protocol, sharded: o.sharded, seed: o.seed, minutes: o.minutes, clients: o.clients, layout: run.layout,
    ops: { ...counts, ok: counts.ok + finalReads.ok, failed: counts.failed + finalReads.failed, total: counts.ok + counts.failed + counts.unknown + finalReads.ok + finalReads.failed },
    faults: faultRows(ops, d.t0, nemesis.spans, d.loadEndMs), skippedFaults: nemesis.skipped.length, migrations: d.migrations,
    ...checked, digests, digestsEqual, anomalies: [...nemesis.anomalies],
    pass: checked.verdict === 'LINEARIZABLE' && digestsEqual && nemesis.anomalies.length === 0,
  }
}

/** Per fault kind (and none): its count and the longest write gap that began while it was active. */
function faultRows(ops: readonly KvOperation[], t0: number, spans: readonly FaultSpan[], loadEndMs: number): FaultRow[] {
  const acks = ops.filter((op) => op.input.op !== 'get' && op.output.type !== 'unknown').map((op) => op.return - t0)
  const gaps = writeGaps(acks, spans, 0, loadEndMs)
  return [...faultKinds, noFault].flatMap((kind) => {
    const g = gaps.get(kind)
    return g === undefined ? [] : [{ kind, count: g.faults, longestWriteGapMs: Math.round(g.longestGapMs), gapAtS: g.atMs === null ? null : round1(g.atMs / 1000) }]
  })
}

const round1 = (x: number) => Math.round(x * 10) / 10

/** When the spare group is added and removed: 2m evenly spread steps, add first, m per minute-pair of the phase. */
export function migrationTimes(phaseMs: number): number[] {
  const m = Math.max(1, Math.floor(phaseMs / (2 * migrationEveryMs)))
  return Array.from({ length: 2 * m }, (_, k) => Math.round(warmupMs + ((k + 1) * phaseMs) / (2 * m + 1)))
}

/** Adds the spare group, removes it, and so on, at `times`; each call retried until it is done or the run ends. */
async function toggleSpare(admin: KvClient, spare: GroupSpec, times: readonly number[], o: { now: () => number; log: (line: string) => void; deadlineMs: number; anomalies: string[] }): Promise<Migration[]> {
  const done: Migration[] = []
  const t = () => `t=${(o.now() / 1000).toFixed(1)}s`
  for (let k = 0; k < times.length; k++) {
    await sleep(times[k]! - o.now())
    const op = k % 2 === 0 ? 'add' : 'remove'
    for (let attempt = 1; ; attempt++) {
      if (o.now() > o.deadlineMs) {
        o.anomalies.push(`${t()} shard ${op} ${spare.id} not done by the end of the run`)
        return done
      }
      try {
        const epoch = op === 'add' ? await admin.addShardGroup(spare) : await admin.removeShardGroup(spare.id)
        done.push({ op, group: spare.id, epoch, atS: round1(o.now() / 1000) })
        o.log(`${t()} shard ${op} ${spare.id} → epoch ${epoch}${attempt > 1 ? ` (attempt ${attempt})` : ''}`)
        break
      } catch (e) {
        // A remove retried after its first call timed out (and was applied) is refused: not in the map.
        if (op === 'remove' && e instanceof BadRequestError) {
          const map = await admin.shardMap().catch(() => null)
          if (map !== null && !map.groups.some((g) => g.id === spare.id)) {
            done.push({ op, group: spare.id, epoch: map.epoch, atS: round1(o.now() / 1000) })
            o.log(`${t()} shard remove ${spare.id}: done by an earlier attempt (epoch ${map.epoch})`)
            break
          }
        }
        o.log(`${t()} shard ${op} ${spare.id}: ${errorCode(e)}, retrying`)
        await sleep(1000)
      }
    }
  }
  return done
}

/** Waits until every shard group (in the map or not) has applied the newest map and has no migration under way. */
async function settle(cluster: ProcessCluster, admin: KvClient, anomalies: string[]): Promise<void> {
  try {
    const map = await waitFor('the newest shard map', async () => (await admin.shardMap()) ?? undefined, 30_000)
    const probe = cluster.client({ timeoutMs: 1000 })
    await waitFor(`every shard group at epoch ${map.epoch} with no migration`, async () => {
      for (const g of cluster.config.groups) {
        const leader = await cluster.waitForLeader({ group: g.id, timeoutMs: 10_000 })
        const s = await cluster.status(leader, probe, 1000)
        if (s?.epoch !== map.epoch || (s.migrations?.length ?? 1) !== 0) return undefined
      }
      return true
    }, settleTimeoutMs, 300)
  } catch (e) {
    anomalies.push(`the shard groups did not settle: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/** Per group: every replica's applied index, digest and keys, polled until they agree (bounded). */
async function compareDigests(cluster: ProcessCluster, probe: KvClient, groups: readonly string[]): Promise<GroupDigests[]> {
  return Promise.all(groups.map(async (group) => {
    const ids = cluster.replicasOf(group)
    const deadline = performance.now() + convergeTimeoutMs
    let rows: ReplicaDigest[] = []
    for (let i = 0; i < 10_000; i++) {
      rows = await Promise.all(ids.map(async (id): Promise<ReplicaDigest> => {
        try {
          const s = await probe.status(cluster.address(id), { digest: true, timeoutMs: 1000 })
          return { id, appliedIndex: s.appliedIndex, digest: s.digest ?? null, keys: s.keys ?? null }
        } catch {
          return { id, appliedIndex: null, digest: null, keys: null }
        }
      }))
      const first = rows[0]!
      const equal = first.digest !== null && rows.every((r) => r.appliedIndex === first.appliedIndex && r.digest === first.digest)
      if (equal) return { group, equal, replicas: rows }
      if (performance.now() > deadline) break
      await sleep(250)
    }
    return { group, equal: false, replicas: rows }
  }))
}
