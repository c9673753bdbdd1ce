import type { Rng } from '@kv/consensus'
import type { EventQueue } from './event-queue.js'
import { reliableNetwork, unreliableNetwork, type NetworkFaults, type SimNetwork } from './network.js'
import type { SimNode } from './node.js'

/** Which faults the nemesis injects, and how often it acts (virtual ms between actions). */
export interface NemesisOptions {
  partitions: boolean
  crashes: boolean
  /** Crash every replica at once, then restart them all (kvraft's persistence tests). */
  crashAll: boolean
  /** Switch between a reliable and an unreliable network now and then. */
  flakyNetwork: boolean
  intervalMs: number
}

export const noFaults: NemesisOptions = { partitions: false, crashes: false, crashAll: false, flakyNetwork: false, intervalMs: 1000 }

/**
 * The fault injector. Every action is drawn from the run's PRNG, so a seed replays the same
 * faults at the same virtual times. It never keeps more than f replicas down on its own
 * except in crashAll mode, where all come back together.
 */
export class Nemesis {
  private active = false
  actions: string[] = []
  /** The group the current action is about (each action picks one; f is per group). */
  private nodes: readonly SimNode[]

  constructor(
    private readonly options: NemesisOptions,
    private readonly groups: ReadonlyArray<readonly SimNode[]>,
    private readonly net: SimNetwork,
    private readonly queue: EventQueue,
    private readonly rng: Rng,
    private readonly baseFaults: NetworkFaults,
  ) {
    if (groups.length === 0) throw new RangeError('a nemesis needs at least one group')
    this.nodes = groups[0]!
  }

  start(): void {
    this.active = true
    this.schedule()
  }

  stop(): void {
    this.active = false
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
    const choices: Array<() => void> = []
    if (o.partitions) choices.push(() => this.partition(), () => this.heal())
    if (o.crashes) choices.push(() => this.crashOne(), () => this.restartOne(), () => this.bounce())
    if (o.crashAll) choices.push(() => this.crashAll())
    if (o.flakyNetwork) choices.push(() => this.flipNetwork())
    if (choices.length === 0) return
    // One group: no draw, so single-group runs replay as they did before groups existed.
    if (this.groups.length > 1) this.nodes = this.groups[this.rng.int(this.groups.length)]!
    choices[this.rng.int(choices.length)]!()
  }

  private log(what: string): void {
    this.actions.push(`${this.queue.now.toFixed(1)}ms ${what}`)
  }

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
    const f = Math.floor((this.nodes.length - 1) / 2)
    const down = this.nodes.filter((n) => !n.alive).length
    const up = this.nodes.filter((n) => n.alive)
    if (down >= f || up.length === 0) return this.restartOne()
    const victim = up[this.rng.int(up.length)]!
    victim.crash()
    this.log(`crash ${victim.id}`)
  }

  private restartOne(): void {
    const down = this.nodes.filter((n) => !n.alive)
    if (down.length === 0) return
    const node = down[this.rng.int(down.length)]!
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
    const f = Math.floor((this.nodes.length - 1) / 2)
    if (this.nodes.length - up.length >= f || up.length === 0) return this.restartOne()
    const victim = up[this.rng.int(up.length)]!
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
}
