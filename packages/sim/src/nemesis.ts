import type { Rng } from '@kv/consensus'
import type { EventQueue } from './event-queue.js'
import {
  faultTolerance,
  type FaultKind,
  type FaultScope,
  type NemesisContext,
  type NemesisGroup,
  type NemesisOptions,
} from './fault-kinds.js'
import { duel, HoleWatch, huntLeaders, transfer } from './leadership-faults.js'
import { reliableNetwork, unreliableNetwork, type NetworkFaults, type SimNetwork } from './network.js'
import type { CrashPoint, SimNode } from './node.js'
import { MembershipChanges } from './membership-faults.js'
import { cutLeadersInbound, longPartition } from './partition-faults.js'

export {
  describeFaults,
  enabledKinds,
  faultKinds,
  noFaults,
  type FaultKind,
  type NemesisContext,
  type NemesisGroup,
  type NemesisOptions,
} from './fault-kinds.js'

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
  /** What the faults of leadership-faults.ts and partition-faults.ts see of this nemesis. */
  private readonly scope: FaultScope

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
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- `active` is read live through the scope
    const self = this
    this.scope = {
      rng,
      net,
      queue,
      options,
      context,
      get active() {
        return self.active
      },
      log: (what) => this.log(what),
      leaderOf: (group) => this.leaderOf(group),
      pickOne: (xs) => this.pickOne(xs),
      crashedAtPoint: (node, where, restartMs) => this.crashedAtPoint(node, where, restartMs),
    }
  }

  /** The group's replicas, but the retired (removed from it for good). */
  private get nodes(): readonly SimNode[] {
    return this.group.nodes.filter((n) => !n.retired)
  }

  start(): void {
    this.active = true
    if (this.options.clockDrift > 1) this.driftAll()
    if (this.options.skipSlots.length > 0) new HoleWatch(this.scope, this.groups).start()
    if (this.options.membership && this.context.replicas !== undefined) {
      new MembershipChanges(this.scope, this.groups, this.context.replicas).start()
    }
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
    if (o.transfers) choices.push(['transfers', () => transfer(this.scope, this.group)])
    if (o.duels) choices.push(['duels', () => duel(this.scope, this.group)])
    if (o.crashPoints) choices.push(['crashPoints', () => this.armCrashPoint()])
    if (o.maxDiskStallMs > 0) choices.push(['diskStalls', () => this.stallDisks()])
    if (o.longPartitions) choices.push(['longPartitions', () => longPartition(this.scope, this.group)])
    if (o.leaderHunts) choices.push(['leaderHunts', () => huntLeaders(this.scope, this.group)])
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
    return faultTolerance(this.group)
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

  /** `finalOneWayCut`: every group's leader stops hearing its peers (see `NemesisOptions`). */
  cutLeadersInbound(): void {
    cutLeadersInbound(this.scope, this.groups)
  }

  /** `finalOneWayCut`: every group's leader stops hearing its peers (see `NemesisOptions`). */

}
