import type { Rng } from '@kv/consensus'
import type { EventQueue } from './event-queue.js'
import { reliableNetwork, unreliableNetwork, type NetworkFaults, type SimNetwork } from './network.js'
import type { CrashPoint, SimNode } from './node.js'
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
   * Dueling candidates: the leader hands over to two replicas at once; one of them reaches
   * the others through slow links, and a voter crashes right after its next promise (a vote,
   * a Paxos promise) and restarts before the slow candidate's request arrives.
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
}

type Action = readonly [FaultKind, () => void]

/**
 * The fault injector. Every action is drawn from the run's PRNG, so a seed replays the same
 * faults at the same virtual times. It never keeps more than f replicas down on its own
 * except in crashAll mode, where all come back together. Each action is about one group.
 */
export class Nemesis {
  private active = false
  actions: string[] = []
  /** The group the current action is about (each action picks one; f is per group). */
  private group: NemesisGroup
  private readonly holes = new Map<string, { slot: number; since: number }>()

  constructor(
    private readonly options: NemesisOptions,
    private readonly groups: readonly NemesisGroup[],
    private readonly net: SimNetwork,
    private readonly queue: EventQueue,
    private readonly rng: Rng,
    private readonly baseFaults: NetworkFaults,
    private readonly context: NemesisContext,
  ) {
    if (groups.length === 0) throw new RangeError('a nemesis needs at least one group')
    this.group = groups[0]!
  }

  private get nodes(): readonly SimNode[] {
    return this.group.nodes
  }

  start(): void {
    this.active = true
    if (this.options.clockDrift > 1) this.driftAll()
    if (this.options.skipSlots.length > 0) this.watchHoles()
    this.schedule()
  }

  /** Stop injecting faults: clocks run true again and no armed crash point fires. */
  stop(): void {
    this.active = false
    for (const g of this.groups) {
      for (const n of g.nodes) {
        if (n.clockRate !== 1) n.setClockRate(1)
        n.armCrashPoint(null)
        n.diskStallMs = 0
      }
    }
  }

  private schedule(): void {
    const delay = this.options.intervalMs * (0.5 + this.rng.next())
    this.queue.after(delay, () => {
      if (!this.active) return
      this.act()
      this.schedule()
    })
  }

  private act(): void {
    const o = this.options
    const choices: Action[] = []
    if (o.partitions) choices.push(['partitions', () => this.partition()], ['partitions', () => this.heal()])
    if (o.crashes) choices.push(['crashes', () => this.crashOne()], ['crashes', () => this.restartOne()], ['crashes', () => this.bounce()])
    if (o.crashAll) choices.push(['crashAll', () => this.crashAll()])
    if (o.flakyNetwork) choices.push(['flakyNetwork', () => this.flipNetwork()])
    if (o.clockDrift > 1) choices.push(['clockDrift', () => this.driftOne()])
    if (o.maxPauseMs > 0) choices.push(['pauses', () => this.pauseOne()])
    if (o.transfers) choices.push(['transfers', () => this.transfer()])
    if (o.duels) choices.push(['duels', () => this.duel()])
    if (o.crashPoints) choices.push(['crashPoints', () => this.armCrashPoint()])
    if (o.maxDiskStallMs > 0) choices.push(['diskStalls', () => this.stallDisks()])
    if (o.longPartitions) choices.push(['longPartitions', () => this.longPartition()])
    if (o.leaderHunts) choices.push(['leaderHunts', () => this.huntLeaders()])
    if (choices.length === 0) return
    // One group: no draw, so single-group runs replay as they did before groups existed.
    if (this.groups.length > 1) this.group = this.groups[this.rng.int(this.groups.length)]!
    const pick = o.weights === undefined ? choices[this.rng.int(choices.length)]! : this.weighted(choices, o.weights)
    pick[1]()
  }

  /** A kind's weight is shared by its actions (partition and heal each get half of `partitions`). */
  private weighted(choices: readonly Action[], weights: Partial<Record<FaultKind, number>>): Action {
    const perKind = new Map<FaultKind, number>()
    for (const [k] of choices) perKind.set(k, (perKind.get(k) ?? 0) + 1)
    const w = choices.map(([k]) => (weights[k] ?? 1) / perKind.get(k)!)
    let x = this.rng.next() * w.reduce((a, b) => a + b, 0)
    for (let i = 0; i < choices.length; i++) {
      x -= w[i]!
      if (x < 0) return choices[i]!
    }
    return choices[choices.length - 1]!
  }

  private log(what: string): void {
    this.actions.push(`${this.queue.now.toFixed(1)}ms ${what}`)
  }

  /** The live, running replica of the group that leads at the highest term, if any. */
  private leaderOf(group: NemesisGroup): SimNode | null {
    let best: SimNode | null = null
    let bestTerm = -1
    for (const n of group.nodes) {
      if (n.paused) continue
      const s = n.replica?.core.status()
      if (s?.role === 'leader' && s.term > bestTerm) {
        best = n
        bestTerm = s.term
      }
    }
    return best
  }

  private pickOne<T>(xs: readonly T[]): T {
    return xs[this.rng.int(xs.length)]!
  }

  private get f(): number {
    return Math.floor((this.nodes.length - 1) / 2)
  }

  // ---- the classic faults --------------------------------------------------------------

  private partition(): void {
    const ids = this.nodes.map((n) => n.id)
    for (let i = ids.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1)
      ;[ids[i], ids[j]] = [ids[j]!, ids[i]!]
    }
    const cut = 1 + this.rng.int(ids.length - 1)
    const sides = [ids.slice(0, cut), ids.slice(cut)]
    this.net.partition(sides)
    this.log(`partition ${sides.map((s) => s.join(',')).join(' | ')}`)
  }

  private heal(): void {
    this.net.heal()
    this.log('heal')
  }

  private crashOne(): void {
    const down = this.nodes.filter((n) => !n.alive).length
    const up = this.nodes.filter((n) => n.alive)
    if (down >= this.f || up.length === 0) return this.restartOne()
    const victim = this.pickOne(up)
    victim.crash()
    this.log(`crash ${victim.id}`)
  }

  private restartOne(): void {
    const down = this.nodes.filter((n) => !n.alive)
    if (down.length === 0) return
    const node = this.pickOne(down)
    node.start()
    this.log(`restart ${node.id}`)
  }

  /**
   * Crash one replica and restart it within about an election timeout: the window where a
   * replica that voted, crashed and came back could vote again in the same term if it had
   * not made its vote durable.
   */
  private bounce(): void {
    const up = this.nodes.filter((n) => n.alive)
    if (this.nodes.length - up.length >= this.f || up.length === 0) return this.restartOne()
    const victim = this.pickOne(up)
    victim.crash()
    this.log(`bounce ${victim.id}`)
    this.queue.after(20 + this.rng.next() * 200, () => {
      if (!victim.alive) victim.start()
    })
  }

  private crashAll(): void {
    const nodes = this.nodes
    for (const n of nodes) n.crash()
    this.log('crash all')
    this.queue.after(this.rng.next() * this.options.intervalMs * 0.5, () => {
      for (const n of nodes) if (!n.alive) n.start()
      this.log('restart all')
    })
  }

  private flipNetwork(): void {
    const other = this.baseFaults === unreliableNetwork ? reliableNetwork : unreliableNetwork
    this.net.faults = this.net.faults === this.baseFaults ? other : this.baseFaults
    this.log(`network ${this.net.faults === reliableNetwork ? 'reliable' : 'unreliable'}`)
  }

  // ---- clocks and processes --------------------------------------------------------------

  /** A rate in [1/d, d], log-uniform, so that fast and slow clocks are equally likely. */
  private drawRate(): number {
    return Math.pow(this.options.clockDrift, 2 * this.rng.next() - 1)
  }

  private driftAll(): void {
    const rates: string[] = []
    for (const g of this.groups) {
      for (const n of g.nodes) {
        n.setClockRate(this.drawRate())
        rates.push(`${n.id} x${n.clockRate.toFixed(2)}`)
      }
    }
    this.log(`clocks ${rates.join(', ')}`)
  }

  private driftOne(): void {
    const node = this.pickOne(this.nodes)
    node.setClockRate(this.drawRate())
    this.log(`clock ${node.id} x${node.clockRate.toFixed(2)}`)
  }

  /** SIGSTOP a replica (the leader half the time) for a while, then SIGCONT it. */
  private pauseOne(): void {
    const leader = this.leaderOf(this.group)
    const running = this.nodes.filter((n) => n.alive && !n.paused)
    if (running.length === 0) return
    const victim = leader !== null && this.rng.chance(0.5) ? leader : this.pickOne(running)
    const ms = 20 + this.rng.next() * (this.options.maxPauseMs - 20)
    victim.pause()
    this.log(`pause ${victim.id}${victim === leader ? ' (leader)' : ''} for ${ms.toFixed(0)}ms`)
    this.queue.after(ms, () => {
      if (!victim.paused) return
      victim.resume()
      this.log(`resume ${victim.id}`)
    })
  }

  // ---- leadership ----------------------------------------------------------------------------

  private transfer(): void {
    const leader = this.leaderOf(this.group)
    if (leader === null) return
    const to = this.pickOne(this.nodes.filter((n) => n !== leader))
    this.log(`transfer ${leader.id} -> ${to.id}`)
    leader.transferLeadership(to.id)
  }

  /**
   * Two proposers at once, and a voter that bounces between their requests.
   *
   * Raft: the leader L hands over to A and, once A campaigns, to B as well: two candidates
   * in one term. A's messages to B are slow (B must not follow A before it campaigns), and so
   * are B's from the moment it campaigns. A voter V (L, in a group of three) crashes right
   * after it sent its next vote and is back before B's request reaches it: a voter that did
   * not make its vote durable votes twice in one term.
   *
   * Paxos: L hands over to A (and sometimes B), whose messages to L are slow, so L leads on
   * beside them: two ballots at once. V (never L) crashes right after its next promise and
   * is back before L's next Accept: an acceptor that did not make its promise durable
   * accepts below it.
   */
  private duel(): void {
    const leader = this.leaderOf(this.group)
    if (leader === null) return
    const others = this.nodes.filter((n) => n !== leader && n.alive && !n.paused)
    if (others.length === 0) return
    const raft = this.group.protocol === 'raft'
    const a = this.pickOne(others)
    const rest = others.filter((n) => n !== a)
    const b = rest.length > 0 && (raft || this.rng.chance(0.5)) ? this.pickOne(rest) : null
    if (raft && b === null) return
    const slowMs = 2 + this.rng.next() * 48
    const slowed: Array<[SimNode, SimNode]> = []
    const slow = (pairs: Array<[SimNode, SimNode]>) => {
      for (const [from, to] of pairs) this.net.slowLink(from.id, to.id, slowMs)
      slowed.push(...pairs)
    }
    slow(raft ? [[a, b!]] : [a, ...(b === null ? [] : [b])].map((c): [SimNode, SimNode] => [c, leader]))
    this.queue.after(slowMs + 120, () => {
      for (const [from, to] of slowed) this.net.slowLink(from.id, to.id, 0)
    })
    const voters = this.nodes.filter((n) => n !== a && n !== b && (raft || n !== leader) && n.alive && !n.paused)
    let bounce = ''
    if (voters.length > 0 && this.rng.chance(0.75)) {
      const voter = this.pickOne(voters)
      const restartMs = 0.5 + this.rng.next() * Math.min(slowMs, 10)
      voter.armCrashPoint({ when: 'after-send', on: 'promise', then: (n) => this.crashedAtPoint(n, 'after its promise', restartMs) })
      bounce = `; ${voter.id} crashes after its next promise, back ${restartMs.toFixed(1)}ms later`
    }
    this.log(`duel ${a.id}${b === null ? '' : ` and ${b.id}`} against ${leader.id} (messages +${slowMs.toFixed(1)}ms${bounce})`)
    leader.transferLeadership(a.id)
    if (b === null) return
    if (!raft) return leader.transferLeadership(b.id)
    // Raft sends TimeoutNow only to a target that holds the whole log, and to one at a time:
    // hand over to B once A campaigns, while L still leads; slow B down once it campaigns.
    const until = this.queue.now + 20
    let handedOver = false
    const watch = () => {
      if (!handedOver) {
        const role = a.replica?.core.status().role
        if (role === 'candidate' || role === 'leader') {
          if (leader.paused || leader.replica?.core.status().role !== 'leader') return
          leader.transferLeadership(b.id)
          handedOver = true
        }
      } else if (b.replica?.core.status().role === 'candidate') {
        return slow(this.nodes.filter((n) => n !== b).map((n): [SimNode, SimNode] => [b, n]))
      }
      if (this.queue.now < until) this.queue.after(0.1, watch)
    }
    this.queue.after(0.1, watch)
  }

  // ---- crashes between persist and send --------------------------------------------------------

  private armCrashPoint(): void {
    const leader = this.leaderOf(this.group)
    const up = this.nodes.filter((n) => n.alive && !n.paused && !n.crashPointArmed)
    if (up.length === 0 || this.nodes.filter((n) => !n.alive).length >= this.f) return
    const node = leader !== null && !leader.crashPointArmed && this.rng.chance(0.5) ? leader : this.pickOne(up)
    const when: CrashPoint['when'] = this.rng.chance(0.5) ? 'before-send' : 'after-send'
    const on: CrashPoint['on'] = this.rng.chance(0.5) ? 'promise' : 'entries'
    const restartMs = Math.pow(300, this.rng.next())
    const where = `after persisting ${on === 'promise' ? 'a promise' : 'entries'}, ${when === 'before-send' ? 'before' : 'after'} sending`
    node.armCrashPoint({ when, on, then: (n) => this.crashedAtPoint(n, where, restartMs) })
    this.log(`arm ${node.id}: crash ${where}`)
  }

  private crashedAtPoint(node: SimNode, where: string, restartMs: number): void {
    this.log(`crash ${node.id} ${where}`)
    this.queue.after(restartMs, () => {
      if (node.alive) return
      node.start()
      this.log(`restart ${node.id}`)
    })
  }

  /** Half the time every replica but the leader, else a random few, sync slowly for 50..800 ms. */
  private stallDisks(): void {
    const leader = this.leaderOf(this.group)
    const victims = this.rng.chance(0.5) ? this.nodes.filter((n) => n !== leader) : this.nodes.filter(() => this.rng.chance(0.5))
    if (victims.length === 0) return
    const extraMs = 1 + this.rng.next() * (this.options.maxDiskStallMs - 1)
    const forMs = 50 + this.rng.next() * 750
    for (const n of victims) n.diskStallMs = extraMs
    this.log(`disk stall ${victims.map((n) => n.id).join(',')} (+${extraMs.toFixed(1)}ms a sync) for ${forMs.toFixed(0)}ms`)
    this.queue.after(forMs, () => {
      for (const n of victims) if (n.diskStallMs === extraMs) n.diskStallMs = 0
    })
  }

  // ---- long partitions -------------------------------------------------------------------------

  /**
   * The leader (or any replica, if none leads) is cut off for 3..15 election timeouts, then
   * healed. Either with a minority of its group and some of the clients, which keep sending
   * it requests (a symmetric partition), or alone and only inbound (it still reaches its
   * peers: a leader that never steps down would hold them in its lease forever).
   */
  private longPartition(): void {
    const leader = this.leaderOf(this.group)
    const victim = leader ?? this.pickOne(this.nodes)
    const oneWay = this.rng.chance(0.35)
    const timeouts = oneWay ? 12 + this.rng.int(9) : 3 + this.rng.int(13)
    const ms = timeouts * this.context.electionTimeoutMs
    const peers = this.nodes.filter((n) => n !== victim)
    if (oneWay) {
      for (const p of peers) this.net.cutLink(p.id, victim.id)
      this.log(`one-way partition: ${victim.id} hears no peer for ${ms.toFixed(0)}ms`)
      this.queue.after(ms, () => {
        if (peers.some((p) => this.net.canReach(p.id, victim.id))) return // healed meanwhile
        for (const p of peers) this.net.restoreLink(p.id, victim.id)
        this.log(`heal one-way partition of ${victim.id}`)
      })
      return
    }
    const minority = [victim, ...this.shuffled(peers).slice(0, this.rng.int(this.f))]
    const stranded = this.context.clients().filter(() => this.rng.chance(0.5))
    const sides = [[...minority.map((n) => n.id), ...stranded], peers.filter((n) => !minority.includes(n)).map((n) => n.id)]
    this.net.partition(sides)
    const generation = this.net.generation
    this.log(`long partition ${sides[0]!.join(',')} | ${sides[1]!.join(',')} for ${ms.toFixed(0)}ms`)
    // Frozen, then cut off: the leader is paused as the partition begins and wakes up in it,
    // its timers an election timeout or more behind its peers' (a VM frozen while its
    // network failed). It believes it heard from a quorum just now and leads on, while the
    // majority elected another leader during the freeze.
    if (victim.alive && !victim.paused && this.rng.chance(0.5)) {
      const frozenMs = Math.min(ms / 2, (1.5 + 2.5 * this.rng.next()) * this.context.electionTimeoutMs)
      victim.pause()
      this.log(`pause ${victim.id} for ${frozenMs.toFixed(0)}ms`)
      this.queue.after(frozenMs, () => {
        if (!victim.paused) return
        victim.resume()
        this.log(`resume ${victim.id}`)
      })
    }
    this.queue.after(ms, () => {
      if (this.net.generation !== generation) return
      this.net.healSides()
      this.log('heal long partition')
    })
  }

  /**
   * For 3..15 election timeouts, each new leader of the group is cut off from its peers
   * 0..20 ms after the hunt first sees it lead (the replica cut off before rejoins them).
   */
  private huntLeaders(): void {
    const group = this.group
    const ms = (3 + this.rng.int(13)) * this.context.electionTimeoutMs
    const until = this.queue.now + ms
    this.log(`leader hunt in ${group.id} for ${ms.toFixed(0)}ms`)
    let isolated: SimNode | null = null
    let generation = -1
    let spotted: { node: SimNode; at: number; afterMs: number } | null = null
    const hunt = () => {
      // Another partition replaced ours: this hunt is over.
      if (!this.active || (generation !== -1 && this.net.generation !== generation)) return
      if (this.queue.now >= until) {
        this.net.healSides()
        this.log(`leader hunt in ${group.id} ends`)
        return
      }
      const leader = this.leaderOf(group)
      if (leader !== null && leader !== isolated) {
        if (spotted?.node !== leader) spotted = { node: leader, at: this.queue.now, afterMs: this.rng.next() * 20 }
        if (this.queue.now - spotted.at >= spotted.afterMs) {
          isolated = leader
          this.net.partition([[leader.id], group.nodes.filter((n) => n !== leader).map((n) => n.id)])
          generation = this.net.generation
          this.log(`isolate leader ${leader.id}`)
        }
      }
      this.queue.after(0.5, hunt)
    }
    hunt()
  }

  /** `finalOneWayCut`: every group's leader stops hearing its peers (see `NemesisOptions`). */
  cutLeadersInbound(): void {
    for (const g of this.groups) {
      const leader = this.leaderOf(g)
      if (leader === null) continue
      for (const p of g.nodes) if (p !== leader) this.net.cutLink(p.id, leader.id)
      this.log(`one-way partition: ${leader.id} hears no peer (to the end)`)
    }
  }

  private shuffled<T>(xs: readonly T[]): T[] {
    const out = [...xs]
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1)
      ;[out[i], out[j]] = [out[j]!, out[i]!]
    }
    return out
  }

  // ---- leaders that skip slots ----------------------------------------------------------------

  /**
   * A Paxos leader configured with `skipSlots` leaves those slots empty, and nothing above a
   * hole executes until another leader fills it with a noop. Nothing deposes a healthy leader
   * by itself, so this watch does (it keeps running after the faults stop): a leader whose
   * log has passed a skipped slot its group has not chosen yet for `holeHoldMs` hands over to
   * another replica, or (while faults run, one time in three) crashes and comes back.
   */
  private watchHoles(): void {
    const everyMs = this.context.electionTimeoutMs / 2
    const check = () => {
      for (const g of this.groups) if (g.protocol === 'paxos') this.checkHole(g)
      this.queue.after(everyMs, check)
    }
    this.queue.after(everyMs, check)
  }

  private checkHole(g: NemesisGroup): void {
    const leader = this.leaderOf(g)
    const s = leader?.replica?.core.status()
    const slot = s === undefined ? undefined : this.options.skipSlots.find((x) => x > s.commitIndex && x <= s.lastIndex)
    if (leader === null || slot === undefined) {
      this.holes.delete(g.id)
      return
    }
    const hole = this.holes.get(g.id)
    if (hole === undefined || hole.slot !== slot) {
      this.holes.set(g.id, { slot, since: this.queue.now })
      return
    }
    if (this.queue.now - hole.since < this.options.holeHoldMs) return
    hole.since = this.queue.now
    const others = g.nodes.filter((n) => n !== leader)
    if (this.active && this.rng.chance(1 / 3)) {
      leader.crash()
      const back = 20 + this.rng.next() * 200
      this.log(`hole at ${g.id} slot ${slot}: leader ${leader.id} crashes, back in ${back.toFixed(0)}ms`)
      this.queue.after(back, () => {
        if (!leader.alive) leader.start()
      })
      return
    }
    const to = this.pickOne(others)
    this.log(`hole at ${g.id} slot ${slot}: transfer ${leader.id} -> ${to.id}`)
    leader.transferLeadership(to.id)
  }
}
