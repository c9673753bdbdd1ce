import type { Rng } from '@kv/consensus'
import type { EventQueue } from './event-queue.js'
import type { SimNetwork } from './network.js'
import type { SimNode } from './node.js'
import type { Protocol } from './protocols.js'

/** Every kind of fault the nemesis draws from (swarm weights are per kind). */
export const faultKinds = [
  'partitions',
  'crashes',
  'crashAll',
  'flakyNetwork',
  'clockDrift',
  'pauses',
  'transfers',
  'duels',
  'crashPoints',
  'diskStalls',
  'longPartitions',
  'leaderHunts',
  'finalOneWayCut',
  'skipSlots',
  'membership',
] as const

export type FaultKind = (typeof faultKinds)[number]

/** Which faults the nemesis injects, how hard, and how often it acts (virtual ms between actions). */
export interface NemesisOptions {
  /** Random partitions of a group, and heals. */
  partitions: boolean
  /** Crash one replica, restart one, or bounce one (crash, restart within ~an election timeout). */
  crashes: boolean
  /** Crash every replica at once, then restart them all (kvraft's persistence tests). */
  crashAll: boolean
  /** Switch between a reliable and an unreliable network now and then. */
  flakyNetwork: boolean
  /**
   * Per-replica clock drift: each replica's clock runs at a rate in [1/clockDrift, clockDrift]
   * of virtual time (drawn at start, redrawn for one replica per action), so its election
   * and lease timers disagree with its peers'. 1: off.
   */
  clockDrift: number
  /** Process pauses (SIGSTOP … SIGCONT) of up to this many virtual ms, the leader half the time. 0: off. */
  maxPauseMs: number
  /** Forced leadership transfers through the core's `transferLeadership`. */
  transfers: boolean
  /**
   * Dueling candidates with bounces: two proposers at once (Raft: two candidates in one term;
   * Paxos: a new ballot beside a leader that leads on), slow links between them, and a voter
   * that crashes right after its next promise (a vote, a Paxos promise) and is back before
   * the late request reaches it (see leadership-faults.ts).
   */
  duels: boolean
  /** Crashes between persist and send: a replica crashes right after its next Ready's disk write, before or after sending what waited for it. */
  crashPoints: boolean
  /**
   * Disk stalls: for a while, every sync of some replicas of a group takes up to this many
   * virtual ms more (a degraded disk, a noisy neighbour). Commits wait for syncs, heartbeat
   * rounds do not: a read barrier that should wait for a commit shows it. 0: off.
   */
  maxDiskStallMs: number
  /**
   * Long partitions then heals: a group's leader cut off (with a minority and some clients,
   * or only its inbound links) for several election timeouts.
   */
  longPartitions: boolean
  /**
   * Partitions that follow the leader: for a while, whoever leads a group is cut off from
   * the rest of it shortly after it is elected, and the one cut off before rejoins. Three
   * leaders in a row, each isolated before its entries spread, is Raft's Figure 8.
   */
  leaderHunts: boolean
  /**
   * The last fault: once the others stopped, every group's leader hears none of its peers
   * (it can still send) while a fresh client must be served. A leader that never steps down
   * holds its peers in its lease and stalls its group.
   */
  finalOneWayCut: boolean
  /** Paxos: slots every leader leaves empty (`skipSlots`); a stuck leader is made to hand over after `holeHoldMs`. Empty: off. */
  skipSlots: readonly number[]
  /** How long a hole may hold up its group before the nemesis deposes the leader that left it. */
  holeHoldMs: number
  /**
   * Membership changes on their own clock (membership-faults.ts): a brand-new replica joins
   * as a learner, is promoted once caught up, a voter is removed (the leader, or a crashed
   * replica that a new one replaces), one change at a time; a removed replica is retired.
   */
  membership: boolean
  /**
   * Swarm testing: each kind's weight in the nemesis's draws (a kind not named weighs 1).
   * Absent: every action of every enabled kind is equally likely (the draw of older runs).
   */
  weights?: Partial<Record<FaultKind, number>>
  intervalMs: number
}

export const noFaults: NemesisOptions = {
  partitions: false,
  crashes: false,
  crashAll: false,
  flakyNetwork: false,
  clockDrift: 1,
  maxPauseMs: 0,
  transfers: false,
  duels: false,
  crashPoints: false,
  maxDiskStallMs: 0,
  longPartitions: false,
  leaderHunts: false,
  finalOneWayCut: false,
  skipSlots: [],
  holeHoldMs: 100,
  membership: false,
  intervalMs: 1000,
}

/** The kinds `o` enables. */
export function enabledKinds(o: NemesisOptions): FaultKind[] {
  const on: Record<FaultKind, boolean> = {
    partitions: o.partitions,
    crashes: o.crashes,
    crashAll: o.crashAll,
    flakyNetwork: o.flakyNetwork,
    clockDrift: o.clockDrift > 1,
    pauses: o.maxPauseMs > 0,
    transfers: o.transfers,
    duels: o.duels,
    crashPoints: o.crashPoints,
    diskStalls: o.maxDiskStallMs > 0,
    longPartitions: o.longPartitions,
    leaderHunts: o.leaderHunts,
    finalOneWayCut: o.finalOneWayCut,
    skipSlots: o.skipSlots.length > 0,
    membership: o.membership,
  }
  return faultKinds.filter((k) => on[k])
}

/** `partitions*4,clockDrift(x1.8),pauses(≤400ms)`: the enabled kinds, their intensity and swarm weight. */
export function describeFaults(o: NemesisOptions): string {
  return enabledKinds(o)
    .map((k) => {
      const intensity =
        k === 'clockDrift' ? `(x${o.clockDrift.toFixed(2)})` : k === 'pauses' ? `(≤${o.maxPauseMs}ms)` : k === 'diskStalls' ? `(≤${o.maxDiskStallMs}ms)` : k === 'skipSlots' ? `(${o.skipSlots.length})` : ''
      const w = o.weights?.[k]
      return `${k}${intensity}${w === undefined || w === 1 ? '' : `*${w}`}`
    })
    .join(',')
}

/** One group as the nemesis sees it. */
export interface NemesisGroup {
  readonly id: string
  readonly protocol: Protocol
  readonly nodes: readonly SimNode[]
}

/** What the nemesis may ask of the world around it. */
export interface NemesisContext {
  /** The clients' endpoint names now (a long partition strands some with the minority). */
  clients(): readonly string[]
  /** One election timeout at the nominal clock rate, in virtual ms. */
  readonly electionTimeoutMs: number
  /** Brand-new, empty replicas of a group (they join once a change adds them); absent if the world cannot. */
  replicas?: {
    nextId(group: NemesisGroup): string
    start(group: NemesisGroup, id: string): SimNode
  }
}

/** What a fault needs of the nemesis that injects it (leadership-faults.ts, partition-faults.ts). */
export interface FaultScope {
  readonly rng: Rng
  readonly net: SimNetwork
  readonly queue: EventQueue
  readonly options: NemesisOptions
  readonly context: NemesisContext
  /** Faults are being injected (false once the nemesis stopped). */
  readonly active: boolean
  log(what: string): void
  /** The live, running replica of `group` that leads at the highest term, if any. */
  leaderOf(group: NemesisGroup): SimNode | null
  pickOne<T>(xs: readonly T[]): T
  /** `node` crashed at an armed crash point: log it and restart it `restartMs` later. */
  crashedAtPoint(node: SimNode, where: string, restartMs: number): void
}

/** The f of a group of 2f+1 (its replicas still in it: retired ones are gone for good). */
export function faultTolerance(group: NemesisGroup): number {
  return Math.floor((group.nodes.filter((n) => !n.retired).length - 1) / 2)
}
