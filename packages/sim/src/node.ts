import type { CoreConfig, CoreFactory, Entry, HardState, MembershipChange, ProposeMembershipResult, Ready, Rng, Snapshot } from '@kv/consensus'
import { ControllerMachine, KvStateMachine, Replica, type ReplicaLimits } from '@kv/server'
import { SimDisk } from './disk.js'
import { SimulationError } from './errors.js'
import type { EventQueue } from './event-queue.js'
import type { SimNetwork } from './network.js'

export interface NodeTiming {
  tickMs: number
  electionTimeoutTicks: number
  heartbeatTicks: number
  diskMinMs: number
  diskMaxMs: number
}

/** How much a core's replication messages carry and how many are in flight (CoreConfig). */
export interface NodeReplication {
  maxEntriesPerMessage: number
  maxInflightMessages: number
}

export const defaultReplication: NodeReplication = { maxEntriesPerMessage: 64, maxInflightMessages: 4 }

export interface NodeHooks {
  /** Called with the entries a node applies as a Ready hands them out (durable on it by then). */
  committed(node: SimNode, entries: readonly Entry[]): void
  /** Called after every event the node handled. */
  afterEvent(node: SimNode): void
}

/**
 * Where an armed replica crashes (the nemesis's "crash between persist and send"): right
 * after the disk write of its next Ready that `on` matches completed, either before the
 * messages that waited for it are sent ('before-send') or just after ('after-send').
 */
export interface CrashPoint {
  readonly when: 'before-send' | 'after-send'
  /**
   * 'promise': a Ready that promises something in a newer term or ballot than the disk held
   * (a vote, a Paxos promise, a candidacy): it changes the term or vote written, or a
   * message waiting for it carries a newer term. 'entries': a Ready that writes entries.
   */
  readonly on: 'promise' | 'entries'
  /** Called once the node crashed there (the nemesis restarts it). */
  readonly then: (node: SimNode) => void
}

/** The machines a simulated group can run. */
export type SimMachine = KvStateMachine | ControllerMachine

/**
 * One simulated replica: the same `Replica` the real node runs, with a virtual clock, the
 * simulated network and a simulated disk as its environment. A crash throws the replica and
 * everything in flight away; a restart builds a new one from what the disk kept.
 *
 * The node's own clock runs at `clockRate` times virtual time (a drifting clock: its election
 * and lease timers disagree with its peers'). A paused node (SIGSTOP) neither ticks nor
 * handles anything: what arrives meanwhile (messages, requests, finished disk writes) waits
 * in its backlog, in order, and is handled on resume (SIGCONT), after one overdue tick, by a
 * replica whose state is as stale as the pause was long.
 */
/** Readys with nothing to sync one replica may hand out at one virtual instant before it counts as a livelock. */
const MAX_QUICK_READYS_AT_ONE_INSTANT = 10_000

export class SimNode {
  readonly disk = new SimDisk()
  replica: Replica<SimMachine> | null = null
  /** Bumped by every crash and restart: events of an older incarnation are ignored. */
  incarnation = 0
  crashes = 0
  /** Ticks of this node's clock per tick of virtual time. */
  private rate = 1
  /** The local clock reading at virtual time `clockAnchor` (re-anchored when the rate changes). */
  private clockBase = 0
  private clockAnchor = 0
  private pausedFlag = false
  /** A tick fell due while paused. */
  private tickOverdue = false
  private backlog: Array<() => void> = []
  private crashPoint: CrashPoint | null = null
  /** Readys finished at once (nothing to sync) at the virtual instant `instantOfQuickReadys`. */
  private quickReadys = 0
  private instantOfQuickReadys = -1
  /** Extra virtual ms every disk sync takes (a stalling disk); 0: none. */
  diskStallMs = 0
  /** Removed from its group (the removal was committed): crashed for good, never restarted. */
  retired = false

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
    private readonly replication: NodeReplication = defaultReplication,
    private readonly maxReadysInFlight?: number,
  ) {}

  get alive(): boolean {
    return this.replica !== null
  }

  get paused(): boolean {
    return this.pausedFlag
  }

  get clockRate(): number {
    return this.rate
  }

  /** This node's clock: virtual time as seen through its drift. */
  localNow(): number {
    return this.clockBase + (this.queue.now - this.clockAnchor) * this.rate
  }

  /** From now on this node's clock runs `rate` times as fast as virtual time (its next tick keeps its schedule). */
  setClockRate(rate: number): void {
    if (!(rate > 0)) throw new RangeError(`a clock rate must be positive, got ${rate}`)
    this.clockBase = this.localNow()
    this.clockAnchor = this.queue.now
    this.rate = rate
  }

  /** Runs `handle` now, or, while paused, on resume (in arrival order). */
  receive(handle: () => void): void {
    if (this.pausedFlag) this.backlog.push(handle)
    else handle()
  }

  /** SIGSTOP: nothing runs on this node until `resume`. */
  pause(): void {
    if (this.replica === null) return
    this.pausedFlag = true
  }

  /** SIGCONT: the overdue tick first (timers run before I/O), then the backlog in arrival order. */
  resume(): void {
    if (!this.pausedFlag) return
    this.pausedFlag = false
    const incarnation = this.incarnation
    if (this.tickOverdue) {
      this.tickOverdue = false
      this.queue.after(0, () => this.tickLoop(incarnation))
    }
    const backlog = this.backlog
    this.backlog = []
    for (const handle of backlog) {
      this.queue.after(0, () => {
        if (this.incarnation === incarnation) handle()
      })
    }
  }

  /** Crash at the next completed persist that `point.on` matches (see `CrashPoint`); null disarms. */
  armCrashPoint(point: CrashPoint | null): void {
    this.crashPoint = point
  }

  get crashPointArmed(): boolean {
    return this.crashPoint !== null
  }

  /** Asks this replica's core to hand leadership to `to` (ignored unless it leads). */
  transferLeadership(to: string): void {
    if (this.replica === null || this.pausedFlag) return
    this.replica.core.transferLeadership(to)
    this.hooks.afterEvent(this)
  }

  /** Asks this replica's core for a membership change (answered at once; refused unless it leads). */
  proposeMembership(change: MembershipChange): ProposeMembershipResult | null {
    if (this.replica === null || this.pausedFlag) return null
    const result = this.replica.core.proposeMembership(change)
    this.hooks.afterEvent(this)
    return result
  }

  /** The group removed this replica: it stops for good (an operator decommissions it). */
  retire(): void {
    this.crash()
    this.retired = true
  }

  /** The KV machine of a live replica of a shard group. */
  get kv(): KvStateMachine {
    const machine = this.replica?.stateMachine
    if (!(machine instanceof KvStateMachine)) throw new Error(`${this.id} is ${machine === undefined ? 'down' : 'not a KV replica'}`)
    return machine
  }

  start(): void {
    if (this.retired) return
    this.incarnation++
    const incarnation = this.incarnation
    const coreRng = this.rng.fork()
    const config: CoreConfig = {
      id: this.id,
      members: this.members,
      electionTimeoutTicks: this.timing.electionTimeoutTicks,
      heartbeatTicks: this.timing.heartbeatTicks,
      random: () => coreRng.next(),
      maxEntriesPerMessage: this.replication.maxEntriesPerMessage,
      maxInflightMessages: this.replication.maxInflightMessages,
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
        now: () => this.localNow(),
        send: (msg) => this.net.sendPeer(msg),
        persist: (ready, done) => this.persist(incarnation, ready, done),
        saveSnapshot: (snapshot, done) => this.later(incarnation, () => this.completeSnapshot(snapshot, done)),
      },
    })
    // Stagger the first tick so the nodes' clocks are not in lockstep.
    this.queue.after((this.rng.next() * this.timing.tickMs) / this.rate, () => this.tickLoop(incarnation))
  }

  /** kill -9: the replica and everything in flight or waiting in the backlog is gone; the disk stays. */
  crash(): void {
    if (this.replica === null) return
    this.replica = null
    this.incarnation++
    this.crashes++
    this.disk.crash() // every write not synced yet is lost
    this.pausedFlag = false
    this.tickOverdue = false
    this.backlog = []
    this.crashPoint = null
  }

  private tickLoop(incarnation: number): void {
    if (this.incarnation !== incarnation || this.replica === null) return
    if (this.pausedFlag) {
      this.tickOverdue = true
      return
    }
    this.replica.tick()
    this.hooks.afterEvent(this)
    this.queue.after(this.timing.tickMs / this.rate, () => this.tickLoop(incarnation))
  }

  /** A disk write finishes after a random sync delay (or none), unless the node crashed meanwhile. */
  private later(incarnation: number, complete: () => void, sync = true): void {
    const delay = sync ? this.timing.diskMinMs + this.rng.next() * (this.timing.diskMaxMs - this.timing.diskMinMs) + this.diskStallMs : 0
    this.queue.after(delay, () => {
      if (this.incarnation !== incarnation || this.replica === null) return
      this.receive(() => {
        if (this.incarnation !== incarnation || this.replica === null) return
        complete()
        this.hooks.afterEvent(this)
      })
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
      // A core that keeps handing out such Readys never lets the replica's loop return: that
      // is a livelock (the real node would spin the same way), reported as one.
      if (this.queue.now !== this.instantOfQuickReadys) [this.instantOfQuickReadys, this.quickReadys] = [this.queue.now, 0]
      if (++this.quickReadys > MAX_QUICK_READYS_AT_ONE_INSTANT) {
        throw new SimulationError(`livelock: ${this.id} handed out ${MAX_QUICK_READYS_AT_ONE_INSTANT.toLocaleString('en-US')} Readys with nothing to sync at t=${this.queue.now}ms`)
      }
      const point = this.crashPointFor(ready, this.disk.hardState)
      this.disk.writeWithoutSync(ready)
      if (point?.when === 'before-send') return this.crashAt(point)
      done()
      if (point !== null) this.crashAt(point)
      return
    }
    this.disk.enqueue(ready, done)
    this.syncSoon(incarnation)
  }

  private syncSoon(incarnation: number): void {
    const group = this.disk.startSync()
    if (group === null) return
    this.later(incarnation, () => {
      // An armed crash point strikes at the first Ready of the group it matches: the whole
      // group is durable by then; the Readys before it finished, it and those after did not
      // ('before-send'), or it finished too ('after-send').
      let onDisk = this.disk.hardState
      const readys = this.disk.syncingReadys()
      let strike: { point: CrashPoint; at: number } | null = null
      for (let i = 0; i < readys.length && strike === null; i++) {
        const point = this.crashPointFor(readys[i]!, onDisk)
        if (point !== null) strike = { point, at: point.when === 'before-send' ? i : i + 1 }
        onDisk = readys[i]!.hardState ?? onDisk
      }
      const dones = this.disk.completeSync()
      if (strike === null) {
        for (const done of dones) done()
        this.syncSoon(incarnation)
        return
      }
      for (const done of dones.slice(0, strike.at)) done()
      this.crashAt(strike.point)
    }, group.needsSync)
  }

  /** The armed crash point, if `ready` (written over hard state `onDisk`) matches it. */
  private crashPointFor(ready: Ready, onDisk: HardState | null): CrashPoint | null {
    const point = this.crashPoint
    if (point === null) return null
    if (point.on === 'entries') return ready.entries.length > 0 ? point : null
    const hs = ready.hardState
    if (hs !== null && (onDisk === null || hs.term !== onDisk.term || hs.vote !== onDisk.vote)) return point
    // Judged by the messages too, so that a core which (wrongly) left the promise out of the
    // hard state still crashes at the same point.
    return ready.messagesAfterPersist.some((m) => m.term > (onDisk?.term ?? 0)) ? point : null
  }

  private crashAt(point: CrashPoint): void {
    this.crash()
    point.then(this)
  }

  private completeSnapshot(snapshot: Snapshot, done: () => void): void {
    this.disk.installSnapshot(snapshot)
    done()
  }
}
