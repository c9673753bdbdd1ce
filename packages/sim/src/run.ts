import { createRng, type Rng } from '@kv/consensus'
import { layoutCluster, parseClusterSpec, ShardRouter, type ClusterSpec, type ControllerWriteOp, type GroupSpec } from '@kv/protocol'
import { ControllerMachine } from '@kv/server'
import { checkLinearizability, type CheckOptions, type CheckResult } from './linearizability/index.js'
import { noFaults, type NemesisOptions } from './nemesis.js'
import { reliableNetwork, unreliableNetwork } from './network.js'
import type { Protocol } from './protocols.js'
import { defaultReplication, type NodeReplication } from './node.js'
import { drawClientSwarm, drawReplication, drawSwarm } from './swarm.js'
import { appendToken, checkAppends, type WorkloadOptions } from './workload.js'
import { defaultWorldOptions, liveMembers, SimWorld } from './world.js'

/** A fuzz run's shape, all drawn from its seed. */
export interface Scenario {
  seed: number
  protocol: Protocol
  replicas: number
  clients: number
  unreliable: boolean
  nemesis: NemesisOptions
  snapshotEveryEntries: number
  durationMs: number
  workload: WorkloadOptions
  /** How long a client waits for one replica before it tries the next (the simulator's default: 250 ms). */
  requestTimeoutMs: number
  /** Per client, its share of gets; null: the workload's own mix. Readers, stranded with a deposed leader, show its stale reads. */
  readFractions: ReadonlyArray<number | null>
  /** Entries per replication message, messages in flight per follower. */
  replication: NodeReplication
  /** A sharded cluster: a controller and shard groups, the map changed during the run. */
  sharded: ShardedScenario | null
}

export interface ShardedScenario {
  readonly spec: ClusterSpec
  /** Shard-map changes, each at a virtual time: add a group, remove one, add it back. */
  readonly changes: ReadonlyArray<{ readonly atMs: number; readonly op: ControllerWriteOp }>
}

export interface RunResult {
  scenario: Scenario
  verdict: 'ok' | 'failed' | 'unknown'
  problems: string[]
  check: CheckResult | null
  trace: string
  events: number
  operations: number
  simulatedMs: number
  faults: string[]
}

export function scenarioFor(seed: number, protocol: Protocol, options: { sharded?: boolean } = {}): Scenario {
  const r = createRng(seed ^ 0x5eed)
  const nemesis: NemesisOptions = {
    ...noFaults,
    partitions: r.chance(0.6),
    crashes: r.chance(0.6),
    crashAll: r.chance(0.2),
    flakyNetwork: r.chance(0.3),
    intervalMs: 200 + r.int(800),
  }
  const scenario: Scenario = {
    seed,
    protocol,
    replicas: r.chance(0.7) ? 3 : 5,
    clients: 1 + r.int(6),
    unreliable: r.chance(0.4),
    nemesis,
    snapshotEveryEntries: [0, 20, 100][r.int(3)]!,
    durationMs: 1500 + r.int(2500),
    workload: { kind: r.chance(0.3) ? 'append' : 'mixed', keys: 1 + r.int(5), opsPerClient: null },
    requestTimeoutMs: defaultWorldOptions.clientTiming.requestTimeoutMs,
    readFractions: [],
    replication: defaultReplication,
    sharded: options.sharded === true ? shardedScenario(r, protocol) : null,
  }
  // Drawn last, so that the rest of a seed's scenario is what it was before the swarm.
  scenario.nemesis = drawSwarm(r, nemesis, protocol, scenario.sharded !== null)
  const clients = drawClientSwarm(r, scenario.clients, scenario.requestTimeoutMs)
  scenario.requestTimeoutMs = clients.requestTimeoutMs
  scenario.readFractions = clients.readFractions
  scenario.replication = drawReplication(r)
  // Drawn after everything else, so that the rest of a seed's scenario is what it was before.
  // Sharded clients know the replicas of the cluster spec and learn those added since from
  // NOT_LEADER hints; migrations reach a leader the shard map does not list through its followers.
  scenario.nemesis.membership = r.chance(0.85)
  return scenario
}

/**
 * 2..4 shard groups (some of them 5 replicas, some of the other protocol) of which 1..2 start
 * in the map, and 2..4 changes: add a group not in the map, remove one (never the last), or
 * add back one removed before.
 */
function shardedScenario(r: Rng, protocol: Protocol): ShardedScenario {
  const count = 2 + r.int(3)
  const base = layoutCluster({ clusterId: 'sim', token: 'sim', f: 1, groups: count, protocol, basePort: 1, host: 'sim', controller: true })
  const other: Protocol = protocol === 'raft' ? 'paxos' : 'raft'
  const groups: GroupSpec[] = base.groups.map((g, i) => {
    const f = r.chance(0.25) ? 2 : 1
    return {
      id: g.id,
      protocol: i > 0 && r.chance(0.3) ? other : protocol,
      replicas: Array.from({ length: 2 * f + 1 }, (_, k) => ({ id: `${g.id}-r${k + 1}`, host: 'sim', port: 100 * (i + 1) + k })),
    }
  })
  const initial = 1 + r.int(Math.min(2, count - 1))
  const spec = parseClusterSpec({ ...base, groups, initialGroups: groups.slice(0, initial).map((g) => g.id) })
  const inMap = new Set(groups.slice(0, initial).map((g) => g.id))
  const changes: Array<{ atMs: number; op: ControllerWriteOp }> = []
  let atMs = 300
  for (let n = 2 + r.int(3); n > 0; n--) {
    atMs += 300 + r.int(900)
    const outside = groups.filter((g) => !inMap.has(g.id))
    if (outside.length > 0 && (inMap.size === 1 || r.chance(0.6))) {
      const g = outside[r.int(outside.length)]!
      inMap.add(g.id)
      changes.push({ atMs, op: { op: 'addGroup', group: g } })
    } else {
      const ids = [...inMap]
      const id = ids[r.int(ids.length)]!
      inMap.delete(id)
      changes.push({ atMs, op: { op: 'removeGroup', groupId: id } })
    }
  }
  return { spec, changes }
}

/**
 * Runs one scenario to the end and checks everything it can. Never throws for a bug found: it
 * reports it. `options.maxSearchSteps` bounds the linearizability check (default: the checker's).
 */
export function runScenario(s: Scenario, options: CheckOptions = {}): RunResult {
  const world = new SimWorld({
    seed: s.seed,
    protocol: s.protocol,
    replicas: s.replicas,
    ...(s.sharded === null ? {} : { spec: s.sharded.spec }),
    network: s.unreliable ? unreliableNetwork : reliableNetwork,
    nemesis: s.nemesis,
    limits: { snapshotEveryEntries: s.snapshotEveryEntries },
    clientTiming: { ...defaultWorldOptions.clientTiming, requestTimeoutMs: s.requestTimeoutMs },
    replication: s.replication,
  })
  const problems: string[] = []
  let check: CheckResult | null = null
  try {
    for (let i = 0; i < s.clients; i++) {
      const reads = s.readFractions[i] ?? null
      world.addClients(1, reads === null ? s.workload : { ...s.workload, readFraction: reads })
    }
    world.nemesis.start()
    for (const change of s.sharded?.changes ?? []) world.queue.after(change.atMs, () => world.admin.change(change.op))
    world.runFor(Math.max(s.durationMs, (s.sharded?.changes.at(-1)?.atMs ?? 0) + 500))
    if (!world.quiesce()) problems.push('liveness: clients did not finish after the faults stopped')
    if (s.nemesis.finalOneWayCut) world.nemesis.cutLeadersInbound()
    problems.push(...probeProblems(world, s.workload))
    world.net.heal()
    // Migrations finish after the faults stop: each step is a log entry in some group.
    if (!world.converge(s.sharded === null ? 10_000 : 30_000)) problems.push('liveness: replicas did not converge after the faults stopped')
    for (const c of world.clients) problems.push(...c.unexpected)
    if (s.workload.kind === 'append') problems.push(...appendProblems(world))
    if (s.sharded !== null) problems.push(...placementProblems(world))
    check = checkLinearizability(world.history.operations(), options)
    if (check.result === 'illegal') problems.push(`not linearizable (key ${check.key}): ${check.explanation}`)
  } catch (e) {
    problems.push(`crashed at ${world.now.toFixed(1)}ms: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
  }
  const verdict = problems.length > 0 ? 'failed' : check?.result === 'unknown' ? 'unknown' : 'ok'
  return {
    scenario: s,
    verdict,
    problems,
    check,
    trace: world.trace.digest(),
    events: world.trace.events,
    operations: world.history.operations().length,
    simulatedMs: world.now,
    faults: world.nemesis.actions,
  }
}

/** Operations the fresh client of `probeProblems` must complete. */
const PROBE_OPS = 10

/**
 * Once the faults stopped and every client finished, a fresh client must be served: a group
 * stuck for good (a hole nobody fills, a leader its peers cannot replace) lets the run's own
 * clients give up and even converge on the stuck state, but not this.
 */
export function probeProblems(world: SimWorld, load: WorkloadOptions): string[] {
  const [probe] = world.addClients(1, { ...load, opsPerClient: PROBE_OPS })
  const done = () => probe!.completed + probe!.gaveUp >= PROBE_OPS
  world.runUntil(done, 20_000)
  if (probe!.completed === PROBE_OPS) return []
  return [`liveness: after the faults stopped, a fresh client completed ${probe!.completed} of ${PROBE_OPS} operations (${probe!.gaveUp} gave up)`]
}

/** After a sharded run: the operator's changes all went through, and every key sits in the group the final map gives it. */
function placementProblems(world: SimWorld): string[] {
  const problems: string[] = []
  if (!world.admin.idle) problems.push('liveness: shard-map changes still pending after the run')
  for (const entry of world.admin.log) {
    if (entry.response?.type !== 'result') problems.push(`shard-map change ${JSON.stringify(entry.op.op)} failed: ${JSON.stringify(entry.response)}`)
  }
  const ctl = world.group('ctl').nodes.map((n) => n.replica?.stateMachine).find((m) => m instanceof ControllerMachine)
  const map = ctl instanceof ControllerMachine ? ctl.current : null
  if (map === null) return [...problems, 'no controller replica has a shard map']
  const router = new ShardRouter(map)
  for (const g of world.shardGroups) {
    // Its members: a replica removed from the group keeps what it held when it left.
    for (const n of liveMembers(g)) {
      for (const [key] of n.kv.entries()) {
        const owner = router.groupOf(key).id
        if (owner !== g.spec.id) problems.push(`placement: ${n.id} still holds ${key}, which belongs to ${owner} at epoch ${map.epoch}`)
      }
    }
  }
  return problems.slice(0, 10)
}

function appendProblems(world: SimWorld): string[] {
  // The replica that serves k0 now (in a sharded world, one of the group that owns it), the
  // furthest applied among members: one removed from its group (membership changes) stops where
  // it was, still serving k0 as of the map it last applied.
  const node = world.shardGroups.flatMap((g) => liveMembers(g)).filter((n) => n.kv.serves('k0'))
    .sort((a, b) => b.kv.appliedIndex - a.kv.appliedIndex)[0]
  if (node === undefined) return ['no live replica serves the appended key']
  const raw = node.kv.get('k0')
  const value = raw === null ? '' : new TextDecoder().decode(raw)
  const acknowledged = world.history
    .operations()
    .filter((op) => op.input.op === 'append' && op.output.type === 'ok')
    .map((op) => ({ clientNo: op.clientId, token: op.input.op === 'append' ? op.input.value : '' }))
  return checkAppends(value, acknowledged)
}

export { appendToken }
