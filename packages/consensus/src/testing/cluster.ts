import type { ConsensusCore, CoreConfig, CoreFactory, Entry, NodeId, PeerMessage, ProposeMembershipResult, ProposeResult, Snapshot, Status } from '../types.js'
import { initialMembership, type MembershipChange } from '../membership.js'
import { createRng, type Rng } from '../random.js'
import { maxReadysInFlight } from '../limits.js'
import { byteBounds } from '../sizes.js'
import type { SimDisk } from './disk.js'
import { ConformanceError, type Property } from './failure.js'
import { bytesKey } from './identity.js'
import { SafetyMonitor } from './monitor.js'
import { SimNetwork, type NetworkOptions, RELIABLE_NETWORK } from './network.js'
import { checkMessageBounds, checkReadyBounds, isChunkMessage } from './bounds-check.js'
import { SimNode, summarizeReady, writesDisk } from './sim-node.js'
import { shuffle } from './shuffle.js'
import { encodeAppliedLog, snapshotEntries } from './snapshot-codec.js'
import { Trace } from './trace.js'

export interface ClusterOptions {
  readonly factory: CoreFactory
  /** Everything random in the run (network, scheduling, the cores' own randomness) comes from it. */
  readonly seed: number
  /** Members n1..nN. Default 3. */
  readonly size?: number
  readonly electionTimeoutTicks?: number
  readonly heartbeatTicks?: number
  readonly maxEntriesPerMessage?: number
  readonly maxInflightMessages?: number
  /**
   * `CoreConfig`'s byte bounds, passed to every core when set. The cluster checks every
   * message sent against them: a snapshot chunk's data within `maxSnapshotChunkBytes`, the
   * entries of a message (any `entries` or `accepted` list) within `maxBytesPerMessage`
   * unless it is a single entry.
   */
  readonly maxBytesPerMessage?: number
  readonly maxSnapshotChunkBytes?: number
  readonly maxPersistBytesPerReady?: number
  readonly maxApplyBytesPerReady?: number
  /** `CoreConfig.maxReadysInFlight` for every core (default: the contract's default). */
  readonly maxReadysInFlight?: number
  /** Sees every message a core sends, before the network takes it (tests measure them). */
  readonly onSend?: (message: PeerMessage) => void
  /** `CoreConfig.options`, passed to every core as is. */
  readonly coreOptions?: Readonly<Record<string, unknown>>
  readonly network?: Partial<NetworkOptions>
  /**
   * Chance that the shell's next step (hand out a Ready, sync the oldest writes, finish the
   * oldest synced Ready) waits for a later tick: Readys pile up in flight meanwhile, and a
   * crash can fall between any two steps.
   */
  readonly readyDeferRate?: number
  /** Every this many applied entries, snapshot the state machine and call `core.compact`. */
  readonly compactEvery?: number | null
  /** Check Raft's full log matching on durable logs (and compare entry terms everywhere). */
  readonly strictLogMatching?: boolean
  /** Names the run in failure messages. */
  readonly label?: string
  /** How to replay the run, printed with every failure. */
  readonly replay?: string
  /** Events kept for failure messages. Default 40. */
  readonly traceEvents?: number
}

/** A core went on producing work without end inside one tick. */
const MAX_READY_ROUNDS_PER_TICK = 1000

/**
 * A deterministic cluster of cores behind a simulated network and simulated disks, run in
 * logical ticks from one seed. The shell follows the `Ready` duties to the letter, each core's
 * invariants are checked after every step, and the safety properties are checked as the run
 * goes (see `SafetyMonitor`). Any failure throws a `ConformanceError` naming the seed.
 */
export class CoreCluster {
  /** Every node of the run: n1..nN, then those added by `addNode`. */
  readonly ids: NodeId[]
  /** The group's initial voters (`CoreConfig.members` of every core). */
  readonly initialIds: readonly NodeId[]
  private readonly rootRng: Rng
  readonly seed: number
  /** Randomness for the scenario driving this cluster (fault plans, proposal timing). */
  readonly random: Rng
  private readonly nodes = new Map<NodeId, SimNode>()
  private readonly network: SimNetwork
  private readonly scheduling: Rng
  private readonly monitor: SafetyMonitor
  private readonly trace: Trace
  private readyDeferRate: number
  private compactEvery: number | null
  private tickCount = 0

  constructor(private readonly options: ClusterOptions) {
    const size = options.size ?? 3
    if (!Number.isInteger(size) || size < 1) throw new Error(`cluster size must be a positive integer, got ${size}`)
    this.seed = options.seed
    this.ids = Array.from({ length: size }, (_, i) => `n${i + 1}`)
    this.initialIds = [...this.ids]
    const root = createRng(options.seed)
    this.rootRng = root
    this.network = new SimNetwork(root.fork(), { ...RELIABLE_NETWORK, ...options.network })
    this.scheduling = root.fork()
    this.random = root.fork()
    this.readyDeferRate = options.readyDeferRate ?? 0
    this.compactEvery = options.compactEvery ?? null
    this.trace = new Trace(options.traceEvents ?? 40)
    this.monitor = new SafetyMonitor({ strictLogMatching: options.strictLogMatching ?? false },
      (property, nodes, detail) => this.fail(property, nodes, detail), () => this.tickCount)
    for (const id of this.ids) this.nodes.set(id, new SimNode(id, root.fork()))
    for (const id of this.ids) this.start(this.node(id))
  }

  get now(): number {
    return this.tickCount
  }

  // ---- driving -----------------------------------------------------------------------

  /** Advance logical time by `n` ticks: every live core ticks, due messages arrive, Readys are worked. */
  tick(n = 1): void {
    for (let i = 0; i < n; i++) this.tickOnce()
  }

  /** Tick until `pred` holds (checked before each tick); false if it still fails after `maxTicks`. */
  runUntil(pred: (cluster: this) => boolean, maxTicks: number): boolean {
    for (let i = 0; i < maxTicks; i++) {
      if (pred(this)) return true
      this.tickOnce()
    }
    return pred(this)
  }

  /** `runUntil`, failing with a liveness error that says what did not happen. */
  awaitCondition(pred: (cluster: this) => boolean, maxTicks: number, what: string): void {
    if (!this.runUntil(pred, maxTicks)) this.fail('liveness', this.liveIds(), `${what} did not happen within ${maxTicks} ticks`)
  }

  /** Offer `data` to `nodeId`'s core (it must be up). */
  propose(nodeId: NodeId, data: Uint8Array): ProposeResult {
    const node = this.live(nodeId)
    this.trace.record(this.tickCount, nodeId, 'propose', data)
    return this.call(node, 'propose', (core) => core.propose(data))
  }

  /** Starts a brand-new, empty node `id` joining the group (it is not among the initial
   * members: it learns its membership from the leader once a change adds it). */
  addNode(id: NodeId): void {
    if (this.nodes.has(id)) throw new Error(`${id} exists`)
    this.ids.push(id)
    const node = new SimNode(id, this.rootRng.fork())
    this.nodes.set(id, node)
    this.trace.record(this.tickCount, id, 'add node')
    this.start(node)
  }

  /** Offer a membership change to `nodeId`'s core (it must be up). */
  proposeMembership(nodeId: NodeId, change: MembershipChange): ProposeMembershipResult {
    const node = this.live(nodeId)
    this.trace.record(this.tickCount, nodeId, 'propose membership', change)
    return this.call(node, 'proposeMembership', (core) => core.proposeMembership(change))
  }

  /** The unique live leader at the highest term any live leader has, or null. */
  leader(): NodeId | null {
    let best: Status | null = null
    let unique = false
    for (const node of this.nodes.values()) {
      if (node.core === null) continue
      const s = node.core.status()
      if (s.role !== 'leader') continue
      if (best === null || s.term > best.term) [best, unique] = [s, true]
      else if (s.term === best.term) unique = false
    }
    return best !== null && unique ? best.id : null
  }

  // ---- faults ------------------------------------------------------------------------

  /** Nodes talk only within their own group; a node named in no group is cut off alone. */
  partition(groups: readonly Iterable<NodeId>[]): void {
    const named = groups.map((g) => [...g])
    for (const id of named.flat()) this.node(id)
    this.network.partition(named)
    this.trace.record(this.tickCount, '*', 'partition', named)
  }

  heal(): void {
    this.network.heal()
    this.trace.record(this.tickCount, '*', 'heal')
  }

  setDropRate(p: number): void {
    this.network.configure({ dropRate: p })
  }

  configureNetwork(options: Partial<NetworkOptions>): void {
    this.network.configure(options)
  }

  setReadyDeferRate(p: number): void {
    if (!(p >= 0 && p < 1)) throw new Error(`readyDeferRate must be in [0, 1), got ${p}`)
    this.readyDeferRate = p
  }

  setCompactEvery(k: number | null): void {
    this.compactEvery = k
  }

  /**
   * A stalled disk syncs nothing: the node keeps handing out Readys (up to its pipeline's
   * depth) and their writes wait, unsynced, until the disk is released or the node crashes
   * (which loses them).
   */
  setDiskStalled(id: NodeId, stalled: boolean): void {
    this.node(id).diskStalled = stalled
    this.trace.record(this.tickCount, id, stalled ? 'disk stalled' : 'disk released')
  }

  /** Readys `id` handed out and not yet advanced, and how many of them are synced. */
  readysInFlight(id: NodeId): { readonly handedOut: number; readonly synced: number } {
    const inFlight = this.node(id).inFlight
    return { handedOut: inFlight.length, synced: inFlight.filter((r) => r.persisted).length }
  }

  /** The process dies: its core, its in-flight Ready and its state machine are gone; its disk stays. */
  crash(id: NodeId): void {
    const node = this.live(id)
    node.crash()
    this.monitor.observeCrash(id)
    this.trace.record(this.tickCount, id, 'crash')
  }

  /** A new core is built from what the crashed node's disk holds. */
  restart(id: NodeId): void {
    const node = this.node(id)
    if (node.alive) throw new Error(`restart: ${id} is up`)
    node.restarts++
    this.trace.record(this.tickCount, id, 'restart')
    this.start(node)
  }

  // ---- looking -----------------------------------------------------------------------

  isAlive(id: NodeId): boolean {
    return this.node(id).alive
  }

  liveIds(): NodeId[] {
    return this.ids.filter((id) => this.node(id).alive)
  }

  /** The core's status, or null while the node is down. */
  status(id: NodeId): Status | null {
    return this.node(id).core?.status() ?? null
  }

  appliedIndex(id: NodeId): number {
    return this.node(id).appliedIndex
  }

  /** The node's applied entries (state machine), index i at position i - 1. */
  appliedLog(id: NodeId): readonly Entry[] {
    return this.node(id).appliedLog
  }

  /** The index at which `id` applied a normal entry carrying `data`, or null. */
  appliedAt(id: NodeId, data: Uint8Array): number | null {
    return this.node(id).appliedPayloads.get(bytesKey(data)) ?? null
  }

  snapshotsInstalled(id: NodeId): number {
    return this.node(id).snapshotsInstalled
  }

  /** Snapshot chunks delivered to `id` (messages with the fields of `SnapshotChunk`). */
  chunksReceived(id: NodeId): number {
    return this.node(id).chunksReceived
  }

  disk(id: NodeId): SimDisk {
    return this.node(id).disk
  }

  stats(): { tick: number; leaderTerms: number; committed: number; inFlight: number; delivered: number; dropped: number } {
    return { tick: this.tickCount, leaderTerms: this.monitor.leaderTerms, committed: this.monitor.registry.size, ...this.network.stats() }
  }

  /** Throw a `ConformanceError` carrying this run's seed, tick, replay hint and recent events. */
  fail(property: Property, nodes: readonly NodeId[], detail: string, cause?: unknown): never {
    const context = {
      seed: this.seed,
      tick: this.tickCount,
      label: this.options.label ?? 'CoreCluster',
      replay: this.options.replay ?? `new CoreCluster({ factory, seed: ${this.seed}, ... }) with the same calls`,
      trace: this.trace.lines(),
      nodes: this.ids.map((id) => this.node(id).describe()),
    }
    throw new ConformanceError(property, nodes, detail, context, cause === undefined ? undefined : { cause })
  }

  // ---- the shell -----------------------------------------------------------------------

  private tickOnce(): void {
    this.tickCount++
    const order = this.shuffledLiveNodes()
    for (const node of order) this.call(node, 'tick', (core) => core.tick())
    for (const message of this.network.takeDue(this.tickCount)) {
      const node = this.nodes.get(message.to)
      if (node?.core == null) continue // the process is down: the message is lost
      this.trace.record(this.tickCount, node.id, `<- ${message.from} ${message.type}`, message)
      if (isChunkMessage(message)) node.chunksReceived++
      this.call(node, 'step', (core) => core.step(message))
    }
    for (const node of order) this.work(node)
  }

  /**
   * The shell of one node, one step at a time, in a random order among the steps possible,
   * with random pauses (a deferred step resumes next tick, so a crash can fall between any two):
   * hand out a Ready (up to the pipeline's depth, while earlier ones wait for the disk), sync
   * the oldest writes (one or several Readys in one sync), finish the oldest synced Ready.
   */
  private work(node: SimNode): void {
    for (let round = 0; round < MAX_READY_ROUNDS_PER_TICK; round++) {
      const core = node.core
      if (core === null) return
      const steps: Array<() => boolean> = [() => this.handOut(node, core)]
      if (node.inFlight[0]?.persisted === true) steps.push(() => this.finish(node, core))
      if (!node.diskStalled && node.inFlight.some((r) => !r.persisted)) steps.push(() => this.sync(node))
      if (!shuffle(steps, this.scheduling).some((step) => step())) {
        if (node.inFlight.length === 0) this.monitor.observeIdle(core.status(), node.disk)
        return
      }
      if (this.deferPhase()) return
    }
    this.fail('invariant', [node.id], `${node.id} kept returning Readys: ${MAX_READY_ROUNDS_PER_TICK} in one tick`)
  }

  /** Duty 1, when a Ready is handed out: send what needs nothing durable, apply what is committed. */
  private handOut(node: SimNode, core: ConsensusCore): boolean {
    if (node.inFlight.length >= node.maxReadysInFlight) return false
    const ready = this.call(node, 'ready', (c) => c.ready())
    if (ready === null) return false
    checkReadyBounds(this.options, node.id, ready, this.fail.bind(this))
    node.inFlight.push({ ready, persisted: false })
    for (const m of ready.messagesNow) this.send(node, m)
    for (const entry of ready.committed) {
      // The contract: committed entries are durable on this node already, whatever is in flight.
      this.monitor.observeApply(node.id, entry, node.appliedIndex, node.disk)
      node.apply(entry)
    }
    if (ready.committed.length > 0 && node.core === core) this.compactIfDue(node)
    return true
  }

  /** Duty 2: the oldest writes not yet synced, one or several Readys (group commit), in order. */
  private sync(node: SimNode): boolean {
    const unsynced = node.inFlight.filter((r) => !r.persisted)
    const group = unsynced.slice(0, 1 + this.scheduling.int(unsynced.length))
    for (const r of group) {
      node.disk.persist(r.ready)
      r.persisted = true
      if (writesDisk(r.ready)) this.trace.record(this.tickCount, node.id, 'persist', summarizeReady(r.ready))
      this.monitor.observePersist(node.id, r.ready, node.disk)
    }
    return group.length > 0
  }

  /** Duty 3 for the oldest Ready, once synced: restore its snapshot, send what waited for it, advance. */
  private finish(node: SimNode, core: ConsensusCore): boolean {
    const { ready } = node.inFlight.shift()!
    if (ready.snapshot !== null) this.restoreSnapshot(node, ready.snapshot)
    for (const m of ready.messagesAfterPersist) {
      this.monitor.observeSendAfterPersist(node.id, m, node.disk)
      this.send(node, m)
    }
    this.call(node, 'advance', (c) => c.advance(ready))
    if (node.core === core) this.compactIfDue(node)
    return true
  }

  private restoreSnapshot(node: SimNode, snapshot: Snapshot): void {
    const entries = snapshotEntries(snapshot.data)
    if (entries === null) this.fail('state machine safety', [node.id], `${node.id} was handed snapshot data the application never made (index ${snapshot.index})`)
    this.monitor.observeRestore(node.id, snapshot.index, entries, node.appliedIndex)
    node.restore(entries)
    node.snapshotsInstalled++
    this.trace.record(this.tickCount, node.id, 'restore snapshot', { index: snapshot.index, term: snapshot.term })
  }

  private compactIfDue(node: SimNode): void {
    const every = this.compactEvery
    if (every === null || node.appliedIndex - node.lastCompactIndex < every) return
    const last = node.appliedLog[node.appliedIndex - 1]
    if (last === undefined) return
    const snapshot: Snapshot = {
      index: last.index, term: last.term, data: encodeAppliedLog(node.appliedLog), ...membershipOfLog(node.appliedLog, this.initialIds),
    }
    node.disk.storeSnapshot(snapshot) // the application stores it durably before telling the core
    node.lastCompactIndex = last.index
    this.trace.record(this.tickCount, node.id, 'compact', { index: last.index })
    this.call(node, 'compact', (core) => core.compact(snapshot))
  }

  private send(node: SimNode, message: PeerMessage): void {
    if (message.from !== node.id || message.to === node.id || !this.nodes.has(message.to)) {
      this.fail('invariant', [node.id], `${node.id} sent a message from ${message.from} to ${message.to}`)
    }
    this.trace.record(this.tickCount, node.id, `-> ${message.to} ${message.type}`, message)
    checkMessageBounds(this.options, node.id, message, this.fail.bind(this))
    this.options.onSend?.(message)
    this.network.send(message, this.tickCount)
  }

  private start(node: SimNode): void {
    if (!node.loadStateMachine()) this.fail('state machine safety', [node.id], `${node.id}'s durable snapshot is not one the application made`)
    const config: CoreConfig = {
      id: node.id,
      members: this.initialIds,
      electionTimeoutTicks: this.options.electionTimeoutTicks ?? 10,
      heartbeatTicks: this.options.heartbeatTicks ?? 2,
      random: () => node.random.next(),
      maxEntriesPerMessage: this.options.maxEntriesPerMessage ?? 64,
      maxInflightMessages: this.options.maxInflightMessages ?? 8,
      ...byteBounds(this.options),
      persisted: node.restarts === 0 ? null : node.disk.load(),
      ...(this.options.coreOptions === undefined ? {} : { options: this.options.coreOptions }),
    }
    let core: ConsensusCore
    try {
      core = this.options.factory(config)
    } catch (e) {
      if (e instanceof ConformanceError) throw e
      this.fail('invariant', [node.id], `creating ${node.id}'s core threw: ${String(e)}`, e)
    }
    node.core = core
    node.maxReadysInFlight = maxReadysInFlight(config)
    this.afterStep(node, 'create')
  }

  /** Run one call on a node's core, then check its invariants and watch its status. */
  private call<T>(node: SimNode, what: string, fn: (core: ConsensusCore) => T): T {
    const core = node.core
    if (core === null) throw new Error(`${node.id} is down`)
    let result: T
    try {
      result = fn(core)
    } catch (e) {
      if (e instanceof ConformanceError) throw e
      this.fail('invariant', [node.id], `${node.id}.${what}() threw: ${e instanceof Error ? e.message : String(e)}`, e)
    }
    this.afterStep(node, what)
    return result
  }

  private afterStep(node: SimNode, what: string): void {
    const core = node.core
    if (core === null) return
    try {
      core.checkInvariants()
    } catch (e) {
      this.fail('invariant', [node.id], `${node.id} broke an invariant after ${what}(): ${e instanceof Error ? e.message : String(e)}`, e)
    }
    this.monitor.observeStatus(node.id, core.status())
  }

  private deferPhase(): boolean {
    return this.readyDeferRate > 0 && this.scheduling.chance(this.readyDeferRate)
  }

  private shuffledLiveNodes(): SimNode[] {
    return shuffle([...this.nodes.values()].filter((n) => n.alive), this.scheduling)
  }

  private node(id: NodeId): SimNode {
    const node = this.nodes.get(id)
    if (node === undefined) throw new Error(`no member ${id} (members: ${this.ids.join(', ')})`)
    return node
  }

  private live(id: NodeId): SimNode {
    const node = this.node(id)
    if (!node.alive) throw new Error(`${id} is down`)
    return node
  }
}

/** The membership fields of a snapshot of `applied` (see `Snapshot.membership`): the last
 * membership entry applied, and the one before it (or the initial one). */
function membershipOfLog(applied: readonly Entry[], initialIds: readonly NodeId[]): Pick<Snapshot, 'membership' | 'membershipIndex' | 'previousMembership'> {
  const changes = applied.filter((e) => e.type === 'membership')
  const last = changes.at(-1)
  const initial = initialMembership(initialIds)
  if (last === undefined) return { membership: initial, membershipIndex: 0 }
  return { membership: last.membership, membershipIndex: last.index, previousMembership: changes.at(-2)?.membership ?? initial }
}
