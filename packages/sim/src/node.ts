import type { CoreConfig, CoreFactory, Entry, Ready, Rng, Snapshot } from '@kv/consensus'
import { ControllerMachine, KvStateMachine, Replica, type ReplicaLimits } from '@kv/server'
import { SimDisk } from './disk.js'
import type { EventQueue } from './event-queue.js'
import type { SimNetwork } from './network.js'

export interface NodeTiming {
  tickMs: number
  electionTimeoutTicks: number
  heartbeatTicks: number
  diskMinMs: number
  diskMaxMs: number
}

export interface NodeHooks {
  /** Called with the entries a node applies as a Ready hands them out (durable on it by then). */
  committed(node: SimNode, entries: readonly Entry[]): void
  /** Called after every event the node handled. */
  afterEvent(node: SimNode): void
}

/**
 * One simulated replica: the same `Replica` the real node runs, with a virtual clock, the
 * simulated network and a simulated disk as its environment. A crash throws the replica and
 * everything in flight away; a restart builds a new one from what the disk kept.
 */
/** The machines a simulated group can run. */
export type SimMachine = KvStateMachine | ControllerMachine

export class SimNode {
  readonly disk = new SimDisk()
  replica: Replica<SimMachine> | null = null
  /** Bumped by every crash and restart: events of an older incarnation are ignored. */
  incarnation = 0
  crashes = 0

  constructor(
    readonly groupId: string,
    readonly id: string,
    private readonly members: readonly string[],
    /** A fresh machine for each start (a restart rebuilds it from the disk's snapshot and log). */
    private readonly makeMachine: (node: SimNode) => SimMachine,
    private readonly factory: CoreFactory,
    private readonly coreOptions: Readonly<Record<string, unknown>>,
    private readonly limits: Partial<ReplicaLimits>,
    private readonly timing: NodeTiming,
    private readonly queue: EventQueue,
    private readonly net: SimNetwork,
    private readonly rng: Rng,
    private readonly hooks: NodeHooks,
    private readonly maxReadysInFlight?: number,
  ) {}

  get alive(): boolean {
    return this.replica !== null
  }

  /** The KV machine of a live replica of a shard group. */
  get kv(): KvStateMachine {
    const machine = this.replica?.stateMachine
    if (!(machine instanceof KvStateMachine)) throw new Error(`${this.id} is ${machine === undefined ? 'down' : 'not a KV replica'}`)
    return machine
  }

  start(): void {
    this.incarnation++
    const incarnation = this.incarnation
    const coreRng = this.rng.fork()
    const config: CoreConfig = {
      id: this.id,
      members: this.members,
      electionTimeoutTicks: this.timing.electionTimeoutTicks,
      heartbeatTicks: this.timing.heartbeatTicks,
      random: () => coreRng.next(),
      maxEntriesPerMessage: 64,
      maxInflightMessages: 4,
      persisted: this.disk.persisted(),
      options: this.coreOptions,
      ...(this.maxReadysInFlight === undefined ? {} : { maxReadysInFlight: this.maxReadysInFlight }),
    }
    this.replica = new Replica<SimMachine>({
      groupId: this.groupId,
      stateMachine: this.makeMachine(this),
      coreFactory: this.factory,
      coreConfig: config,
      limits: this.limits,
      env: {
        now: () => this.queue.now,
        send: (msg) => this.net.sendPeer(msg),
        persist: (ready, done) => this.persist(incarnation, ready, done),
        saveSnapshot: (snapshot, done) => this.later(incarnation, () => this.completeSnapshot(snapshot, done)),
      },
    })
    // Stagger the first tick so the nodes' clocks are not in lockstep.
    this.queue.after(this.rng.next() * this.timing.tickMs, () => this.tickLoop(incarnation))
  }

  crash(): void {
    if (this.replica === null) return
    this.replica = null
    this.incarnation++
    this.crashes++
    this.disk.crash() // every write not synced yet is lost
  }

  private tickLoop(incarnation: number): void {
    if (this.incarnation !== incarnation || this.replica === null) return
    this.replica.tick()
    this.hooks.afterEvent(this)
    this.queue.after(this.timing.tickMs, () => this.tickLoop(incarnation))
  }

  /** A disk write finishes after a random sync delay (or none), unless the node crashed meanwhile. */
  private later(incarnation: number, complete: () => void, sync = true): void {
    const delay = sync ? this.timing.diskMinMs + this.rng.next() * (this.timing.diskMaxMs - this.timing.diskMinMs) : 0
    this.queue.after(delay, () => {
      if (this.incarnation !== incarnation || this.replica === null) return
      complete()
      this.hooks.afterEvent(this)
    })
  }

  /**
   * The replica hands a Ready out (it applied the Ready's committed entries just now): queue
   * its write on the disk, which syncs one group of writes at a time, each after a random delay.
   */
  private persist(incarnation: number, ready: Ready, done: () => void): void {
    this.hooks.committed(this, ready.committed)
    if (this.disk.idle && !this.disk.needsSync(ready)) {
      // Nothing to sync and nothing before it: done at once, as the node skips the log for it.
      this.disk.writeWithoutSync(ready)
      done()
      return
    }
    this.disk.enqueue(ready, done)
    this.syncSoon(incarnation)
  }

  private syncSoon(incarnation: number): void {
    const group = this.disk.startSync()
    if (group === null) return
    this.later(incarnation, () => {
      for (const done of this.disk.completeSync()) done()
      this.syncSoon(incarnation)
    }, group.needsSync)
  }

  private completeSnapshot(snapshot: Snapshot, done: () => void): void {
    this.disk.installSnapshot(snapshot)
    done()
  }
}
