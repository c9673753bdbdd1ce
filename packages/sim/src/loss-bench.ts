/**
 * Liveness under message loss, measured three ways, each deterministic per seed:
 *
 * - `runLossBench`: the cores alone (no replica, no clients over a wire). A 3-member
 *   `CoreCluster` whose network drops a share of messages in both directions, with closed-loop
 *   "clients" that each keep one proposal outstanding and offer it again to the current leader
 *   when leadership moves or it has waited too long (as `@kv/client` retries). Counts proposals
 *   applied and their latency, leaders, leaders that gave up their ballot on their own, ticks
 *   with no leader, and the messages sent by type.
 * - `runWorldLossBench`: the replicas (`SimWorld`: the real `Replica`, simulated clients) at
 *   kv's process timing.
 * - `runElectionBench`: how long view changes take under loss.
 *
 * `loss-bench.test.ts` prints the figures for Raft and Paxos (`LOSS_BENCH_SEEDS`, `LOSS_BENCH_DROP`).
 */
import { isNotLeader, type ConsensusCore, type CoreFactory, type NodeId, type Ready } from '@kv/consensus'
import { CoreCluster } from '@kv/consensus/testing'
import { reliableNetwork } from './network.js'
import type { Protocol } from './protocols.js'
import { SimWorld } from './world.js'

export interface LossBenchOptions {
  readonly seed: number
  /** Share of messages lost, each direction (the transport's `--drop-rate high` is 0.3). */
  readonly dropRate: number
  /** Simulated ticks to run. */
  readonly ticks: number
  /** Closed-loop clients, each with one proposal outstanding. */
  readonly clients: number
  /** A pending proposal is offered again after this many ticks (as a client's retry). */
  readonly retryTicks: number
  /** A tick's length, for "per second" figures (kv's default `tickMs`). */
  readonly tickMs: number
  readonly electionTimeoutTicks: number
  readonly heartbeatTicks: number
  readonly maxDelayTicks: number
}

/**
 * kv's timing on one machine, in 10 ms ticks: heartbeats every 100 ms, election timeouts of
 * 500 ms, a client retry after 1 s, and round trips of 20 to 40 ms (a message takes at least
 * one tick here; on loopback a round trip with its fsyncs takes a few ms, far below a
 * heartbeat interval, and a run where the two are close would hide what loss costs).
 */
export const LOSS_BENCH_DEFAULTS: Omit<LossBenchOptions, 'seed'> = {
  dropRate: 0.3,
  ticks: 6_000,
  clients: 6,
  retryTicks: 100,
  tickMs: 10,
  electionTimeoutTicks: 50,
  heartbeatTicks: 10,
  maxDelayTicks: 2,
}

export interface LossBenchResult {
  /** Client proposals applied (each counted once, however often it was offered). */
  readonly completed: number
  readonly completedPerSecond: number
  /** Distinct (leader, term) pairs seen. */
  readonly leaders: number
  /** A leader that stopped leading while its term was still the highest it knew (gave up on its own). */
  readonly stepDowns: number
  readonly ticksWithoutLeader: number
  /** Ticks from a proposal's first offer to its first apply anywhere: median and 90th percentile. */
  readonly latencyTicks: { readonly p50: number; readonly p90: number }
  readonly messages: Readonly<Record<string, number>>
}

/** Delegates to `core`, counting every message of every Ready by type. */
function counting(core: ConsensusCore, counts: Map<string, number>): ConsensusCore {
  const count = (ready: Ready): void => {
    for (const m of [...ready.messagesNow, ...ready.messagesAfterPersist]) counts.set(m.type, (counts.get(m.type) ?? 0) + 1)
  }
  return {
    tick: () => core.tick(),
    step: (msg) => core.step(msg),
    propose: (data) => core.propose(data),
    proposeMembership: (change) => core.proposeMembership(change),
    readIndex: (ctx) => core.readIndex(ctx),
    ready: () => {
      const ready = core.ready()
      if (ready !== null) count(ready)
      return ready
    },
    advance: (ready) => core.advance(ready),
    status: () => core.status(),
    compact: (snapshot) => core.compact(snapshot),
    transferLeadership: (to) => core.transferLeadership(to),
    checkInvariants: () => core.checkInvariants(),
  }
}

interface Pending {
  readonly data: Uint8Array
  readonly since: number
  offeredTo: NodeId | null
  offeredTerm: number
  offeredAt: number
}

export function runLossBench(factory: CoreFactory, options: LossBenchOptions): LossBenchResult {
  const counts = new Map<string, number>()
  const cluster = new CoreCluster({
    factory: (config) => counting(factory(config), counts),
    seed: options.seed,
    size: 3,
    electionTimeoutTicks: options.electionTimeoutTicks,
    heartbeatTicks: options.heartbeatTicks,
    network: { dropRate: options.dropRate, minDelayTicks: 1, maxDelayTicks: options.maxDelayTicks },
    label: 'loss bench',
    traceEvents: 0,
  })
  let next = 0
  const fresh = (): Pending => ({
    data: new TextEncoder().encode(`${options.seed}/op-${next++}`), since: cluster.now, offeredTo: null, offeredTerm: 0, offeredAt: 0,
  })
  const latencies: number[] = []
  const clients = Array.from({ length: options.clients }, fresh)
  const leaders = new Set<string>()
  const wasLeading = new Map<NodeId, number>()
  let completed = 0, stepDowns = 0, ticksWithoutLeader = 0
  for (let t = 0; t < options.ticks; t++) {
    const leader = cluster.leader()
    if (leader === null) ticksWithoutLeader++
    for (const [i, p] of clients.entries()) {
      if (cluster.ids.some((id) => cluster.appliedAt(id, p.data) !== null)) {
        completed++
        latencies.push(cluster.now - p.since)
        clients[i] = fresh()
      }
    }
    if (leader !== null) {
      const term = cluster.status(leader)?.term ?? 0
      leaders.add(`${leader}@${term}`)
      for (const p of clients) {
        const moved = p.offeredTo !== leader || p.offeredTerm !== term
        if (!moved && cluster.now - p.offeredAt < options.retryTicks) continue
        if (isNotLeader(cluster.propose(leader, p.data))) continue
        Object.assign(p, { offeredTo: leader, offeredTerm: term, offeredAt: cluster.now })
      }
    }
    cluster.tick()
    for (const id of cluster.ids) {
      const s = cluster.status(id)
      const before = wasLeading.get(id)
      if (before !== undefined && s !== null && s.role !== 'leader' && s.term === before) stepDowns++
      if (s?.role === 'leader') wasLeading.set(id, s.term)
      else wasLeading.delete(id)
    }
  }
  const seconds = (options.ticks * options.tickMs) / 1000
  latencies.sort((a, b) => a - b)
  return {
    completed,
    completedPerSecond: completed / seconds,
    leaders: leaders.size,
    stepDowns,
    ticksWithoutLeader,
    latencyTicks: { p50: percentile(latencies, 0.5), p90: percentile(latencies, 0.9) },
    messages: Object.fromEntries([...counts.entries()].sort(([a], [b]) => a.localeCompare(b))),
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0
}

/** Sums of `runLossBench` over seeds 1..seeds, with per-second figures averaged. */
export function runLossBenchSeeds(factory: CoreFactory, seeds: number, overrides: Partial<LossBenchOptions> = {}): LossBenchResult {
  const results = Array.from({ length: seeds }, (_, i) => runLossBench(factory, { ...LOSS_BENCH_DEFAULTS, ...overrides, seed: i + 1 }))
  const sum = (f: (r: LossBenchResult) => number): number => results.reduce((a, r) => a + f(r), 0)
  const messages: Record<string, number> = {}
  for (const r of results) for (const [k, v] of Object.entries(r.messages)) messages[k] = (messages[k] ?? 0) + v
  return {
    completed: sum((r) => r.completed),
    completedPerSecond: sum((r) => r.completedPerSecond) / seeds,
    leaders: sum((r) => r.leaders),
    stepDowns: sum((r) => r.stepDowns),
    ticksWithoutLeader: sum((r) => r.ticksWithoutLeader),
    latencyTicks: { p50: sum((r) => r.latencyTicks.p50) / seeds, p90: sum((r) => r.latencyTicks.p90) / seeds },
    messages,
  }
}

export interface WorldLossBenchOptions {
  readonly seed: number
  readonly protocol: Protocol
  readonly dropRate: number
  readonly clients: number
  readonly durationMs: number
  /**
   * Lose client requests and replies too (as `kv node --drop-rate` does). Each such loss costs
   * the client a whole 1 s attempt timeout, which dwarfs what the cores do; with `false` only
   * messages between replicas are lost, and the figures measure the cores.
   */
  readonly clientLoss: boolean
}

export interface WorldLossBenchResult {
  /** Client operations answered (reads and writes). */
  readonly completed: number
  readonly completedPerSecond: number
  /** Call to answer, in ms: median and 90th percentile, reads and writes. */
  readonly readMs: { readonly p50: number; readonly p90: number }
  readonly writeMs: { readonly p50: number; readonly p90: number }
  /** Leader changes seen, sampling every tick. */
  readonly leaderChanges: number
  readonly msWithoutLeader: number
}

/**
 * The same question one level up: the real replica code (`SimWorld`) with kv's process timing
 * (50 ms ticks, 1 s client attempt timeout, 8 s call deadline) and sub-millisecond links.
 */
export function runWorldLossBench(o: WorldLossBenchOptions): WorldLossBenchResult {
  const tickMs = 50
  const world = new SimWorld({
    seed: o.seed,
    protocol: o.protocol,
    network: { ...reliableNetwork, dropRate: o.dropRate },
    timing: { tickMs, electionTimeoutTicks: 10, heartbeatTicks: 2, diskMinMs: 0.5, diskMaxMs: 3 },
    clientTiming: { requestTimeoutMs: 1000, opDeadlineMs: 8000, retryBackoffMs: 10, retryBackoffMaxMs: 250, thinkMs: 1 },
    checkInvariants: false,
  })
  if (!o.clientLoss) spareClientLinks(world)
  world.runUntil(() => world.leader() !== null, 60_000)
  const start = world.now
  const clients = world.addClients(o.clients, { kind: 'mixed', keys: 6, opsPerClient: null })
  let leaderChanges = 0, msWithoutLeader = 0
  let last = world.leader()?.id ?? null
  for (let t = 0; t < o.durationMs; t += tickMs) {
    world.runFor(tickMs)
    const now = world.leader()?.id ?? null
    if (now === null) msWithoutLeader += tickMs
    else if (now !== last) leaderChanges++
    if (now !== null) last = now
  }
  const answered = world.history.operations().filter((op) => op.call >= start && Number.isFinite(op.return))
  const ms = (reads: boolean): { p50: number; p90: number } => {
    const xs = answered.filter((op) => (op.input.op === 'get') === reads).map((op) => op.return - op.call).sort((a, b) => a - b)
    return { p50: Math.round(percentile(xs, 0.5)), p90: Math.round(percentile(xs, 0.9)) }
  }
  const completed = clients.reduce((a, c) => a + c.completed, 0)
  return {
    completed, completedPerSecond: completed / (o.durationMs / 1000), readMs: ms(true), writeMs: ms(false), leaderChanges, msWithoutLeader,
  }
}

/** Client requests and replies cross the network without loss; peer messages keep its faults. */
function spareClientLinks(world: SimWorld): void {
  const net = world.net
  const reliably = <A extends unknown[]>(send: (...args: A) => void) => (...args: A): void => {
    const faults = net.faults
    net.faults = { ...faults, dropRate: 0 }
    try {
      send(...args)
    } finally {
      net.faults = faults
    }
  }
  net.sendRequest = reliably(net.sendRequest.bind(net))
  net.sendReply = reliably(net.sendReply.bind(net))
}

/**
 * View changes under loss: ticks until a leader that a quorum follows, first from a cold
 * start, then after the leader crashes (repeated `rounds` times, the crashed node restarting).
 */
export function runElectionBench(factory: CoreFactory, seed: number, rounds: number, overrides: Partial<LossBenchOptions> = {}): number[] {
  const o = { ...LOSS_BENCH_DEFAULTS, ...overrides, seed }
  const cluster = new CoreCluster({
    factory, seed, size: 3, electionTimeoutTicks: o.electionTimeoutTicks, heartbeatTicks: o.heartbeatTicks,
    network: { dropRate: o.dropRate, minDelayTicks: 1, maxDelayTicks: o.maxDelayTicks }, label: 'election bench', traceEvents: 0,
  })
  const followed = (): NodeId | null => {
    const leader = cluster.leader()
    if (leader === null) return null
    const term = cluster.status(leader)?.term
    const followers = cluster.ids.filter((id) => id !== leader && cluster.status(id)?.leader === leader && cluster.status(id)?.term === term)
    return followers.length >= 1 ? leader : null
  }
  const samples: number[] = []
  for (let r = 0; r <= rounds; r++) {
    const start = cluster.now
    cluster.runUntil(() => followed() !== null, 100_000)
    samples.push(cluster.now - start)
    const leader = followed()
    if (leader === null || r === rounds) break
    cluster.tick(o.heartbeatTicks * 3)
    cluster.crash(leader)
    cluster.tick(1)
    cluster.restart(leader)
  }
  return samples
}
