import type { Rng } from '../random.js'
import type { CoreFactory, NodeId } from '../types.js'
import type { CoreCluster } from './cluster.js'
import type { NetworkOptions } from './network.js'
import { clusterFor, report, type ScenarioOptions, type ScenarioReport } from './scenario.js'
import { expectLiveness, payload } from './scenario-steps.js'
import { shuffle } from './shuffle.js'

type FaultKind = 'partition' | 'heal' | 'crash' | 'restart' | 'bounce' | 'drop-rate' | 'stall-disk'

/** How hard a random-fault run shakes the group. */
export interface FaultProfile {
  readonly size: number
  readonly electionTimeoutTicks: number
  readonly heartbeatTicks: number
  readonly compactEvery: number
  readonly readyDeferRate: number
  /** `CoreConfig.maxReadysInFlight` (default: the contract's default). */
  readonly maxReadysInFlight?: number
  readonly network: NetworkOptions
  readonly faultTicks: number
  readonly faultChancePerTick: number
  readonly proposalChancePerTick: number
  readonly faults: readonly FaultKind[]
  /** Most nodes down at once. */
  readonly maxDown: number
  /** A bounced node comes back within this many ticks; a stalled disk syncs again within ten times that. */
  readonly bounceMaxTicks: number
  /** Ticks allowed, once faults stop and all nodes are back, for a leader and a commit everywhere. */
  readonly recoveryTicks: number
}

/** Everything at once on five nodes: drops, delays, duplicates, partitions, crashes, bounces. */
export const RANDOM_FAULTS: FaultProfile = {
  size: 5,
  electionTimeoutTicks: 15,
  heartbeatTicks: 3,
  compactEvery: 25,
  readyDeferRate: 0.25,
  network: { dropRate: 0.05, duplicateRate: 0.05, minDelayTicks: 1, maxDelayTicks: 4 },
  faultTicks: 1000,
  faultChancePerTick: 0.05,
  proposalChancePerTick: 0.3,
  faults: ['partition', 'heal', 'crash', 'restart', 'bounce', 'drop-rate'],
  maxDown: 3,
  bounceMaxTicks: 10,
  recoveryTicks: 1500,
}

/**
 * Three nodes whose election timeout is close to the message delay, so elections collide
 * often, while nodes bounce (crash, restart a few ticks later) in the middle of them and
 * between the phases of a Ready: a forgotten vote or an acknowledgement sent before its write
 * is durable shows up here as two leaders in a term or a lost committed entry.
 */
export const ELECTION_STORM: FaultProfile = {
  size: 3,
  electionTimeoutTicks: 6,
  heartbeatTicks: 2,
  compactEvery: 15,
  readyDeferRate: 0.4,
  network: { dropRate: 0.05, duplicateRate: 0.1, minDelayTicks: 1, maxDelayTicks: 4 },
  faultTicks: 1500,
  faultChancePerTick: 0.15,
  proposalChancePerTick: 0.3,
  faults: ['bounce', 'bounce', 'bounce', 'partition', 'heal', 'heal'],
  maxDown: 1,
  bounceMaxTicks: 2,
  recoveryTicks: 2000,
}

/**
 * The Ready pipeline under stress: three nodes whose shells pause often between steps (so
 * Readys pile up in flight, up to a depth of three), whose disks stall for a while (writes
 * wait unsynced, then sync in groups), and which crash mid-pipeline, losing every write not
 * synced: an acknowledgement, a vote or an apply that ran ahead of its write shows up here.
 */
export const PIPELINE_STORM: FaultProfile = {
  size: 3,
  electionTimeoutTicks: 8,
  heartbeatTicks: 2,
  compactEvery: 15,
  readyDeferRate: 0.5,
  maxReadysInFlight: 3,
  network: { dropRate: 0.03, duplicateRate: 0.05, minDelayTicks: 1, maxDelayTicks: 3 },
  faultTicks: 1500,
  faultChancePerTick: 0.1,
  proposalChancePerTick: 0.5,
  faults: ['bounce', 'bounce', 'stall-disk', 'stall-disk', 'stall-disk', 'crash', 'restart', 'partition', 'heal'],
  maxDown: 1,
  bounceMaxTicks: 3,
  recoveryTicks: 2000,
}

/**
 * Continuous proposals while faults from `profile` strike at random. Safety is checked
 * throughout; once the faults stop, the network is healed and every node is back, the group
 * must elect a leader and commit a new proposal everywhere.
 */
export function runFaultProfile(profile: FaultProfile, factory: CoreFactory, o: ScenarioOptions): ScenarioReport {
  const cluster = clusterFor(factory, o, {
    size: profile.size,
    electionTimeoutTicks: profile.electionTimeoutTicks,
    heartbeatTicks: profile.heartbeatTicks,
    compactEvery: profile.compactEvery,
    readyDeferRate: profile.readyDeferRate,
    ...(profile.maxReadysInFlight === undefined ? {} : { maxReadysInFlight: profile.maxReadysInFlight }),
    network: profile.network,
  })
  const rng = cluster.random
  const bounces = new Map<NodeId, number>() // crashed node → tick it comes back
  const stalls = new Map<NodeId, number>() // node whose disk is stalled → tick it syncs again
  let proposals = 0
  for (let t = 0; t < profile.faultTicks; t++) {
    for (const [id, at] of bounces) {
      if (at > cluster.now) continue
      bounces.delete(id)
      cluster.restart(id)
    }
    for (const [id, at] of stalls) {
      if (at > cluster.now) continue
      stalls.delete(id)
      cluster.setDiskStalled(id, false)
    }
    if (rng.chance(profile.proposalChancePerTick)) {
      // Mostly to the leader; sometimes to anyone, so that refusals and stale leaders are exercised.
      const live = cluster.liveIds()
      const target = rng.chance(0.8) ? cluster.leader() : (live[rng.int(live.length)] ?? null)
      if (target !== null) cluster.propose(target, payload(cluster, `fault-${proposals++}`))
    }
    if (rng.chance(profile.faultChancePerTick)) injectFault(cluster, profile, rng, bounces, stalls)
    cluster.tick()
  }

  for (const id of stalls.keys()) cluster.setDiskStalled(id, false)
  cluster.heal()
  for (const id of cluster.ids) if (!cluster.isAlive(id)) cluster.restart(id)
  cluster.configureNetwork({ dropRate: 0, duplicateRate: 0, minDelayTicks: 1, maxDelayTicks: 2 })
  cluster.setReadyDeferRate(0)
  expectLiveness(cluster, 'after-faults', profile.recoveryTicks)
  return report(cluster)
}

function injectFault(cluster: CoreCluster, profile: FaultProfile, rng: Rng, bounces: Map<NodeId, number>, stalls: Map<NodeId, number>): void {
  const live = cluster.liveIds()
  const down = cluster.ids.filter((id) => !cluster.isAlive(id))
  const mayCrash = down.length < profile.maxDown && live.length > 0
  const kind = profile.faults[rng.int(profile.faults.length)]
  switch (kind) {
    case 'partition': {
      const shuffled = shuffle([...cluster.ids], rng)
      const cut = 1 + rng.int(shuffled.length - 1)
      const groups = [shuffled.slice(0, cut), shuffled.slice(cut)]
      if (rng.chance(0.3) && groups[1]!.length > 1) groups.push(groups[1]!.splice(0, 1))
      cluster.partition(groups)
      break
    }
    case 'heal':
      cluster.heal()
      break
    case 'crash':
      if (mayCrash) cluster.crash(live[rng.int(live.length)]!)
      break
    case 'restart': {
      const waiting = down.filter((id) => !bounces.has(id))
      if (waiting.length > 0) cluster.restart(waiting[rng.int(waiting.length)]!)
      break
    }
    case 'bounce':
      if (mayCrash) {
        const id = live[rng.int(live.length)]!
        cluster.crash(id)
        bounces.set(id, cluster.now + rng.int(profile.bounceMaxTicks + 1))
      }
      break
    case 'drop-rate':
      cluster.setDropRate(rng.next() * 0.3)
      break
    case 'stall-disk': {
      const id = cluster.ids[rng.int(cluster.ids.length)]!
      if (stalls.has(id)) break
      cluster.setDiskStalled(id, true)
      stalls.set(id, cluster.now + 1 + rng.int(10 * profile.bounceMaxTicks))
      break
    }
    case undefined:
      break
  }
}
