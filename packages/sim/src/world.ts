import { createRng, isMember, type CoreFactory, type Entry, type Rng } from '@kv/consensus'
import { initialShardMap, layoutCluster, type ClusterSpec, type GroupSpec } from '@kv/protocol'
import { ControllerMachine, createGroupMachine, groupKind, parseGroupRequest, type MigrationEvent, type ReplicaLimits } from '@kv/server'
import { SimAdmin } from './admin.js'
import { SimClient, type ClientRouting, type ClientTiming } from './client.js'
import { SimulationError } from './errors.js'
import { EventQueue } from './event-queue.js'
import { HistoryRecorder, type KvInput } from './linearizability/index.js'
import { Nemesis, noFaults, type NemesisOptions } from './nemesis.js'
import { reliableNetwork, SimNetwork, type NetworkFaults } from './network.js'
import { defaultReplication, SimNode, type NodeReplication, type NodeTiming, type SimMachine } from './node.js'
import { protocols, type Protocol } from './protocols.js'
import { code, Trace } from './trace.js'
import { SimWatcher, type WatchTarget } from './watcher.js'
import { workload, type WorkloadOptions } from './workload.js'

export interface WorldOptions {
  seed: number
  protocol: Protocol
  /** Replicas of the one group laid out when no `spec` is given. */
  replicas: number
  /**
   * The cluster to simulate: the same spec `kv config generate` writes and `kv node` runs
   * (addresses are ignored here). Default: one group of `replicas` running `protocol`.
   */
  spec?: ClusterSpec
  network: NetworkFaults
  nemesis: NemesisOptions
  timing: NodeTiming
  clientTiming: ClientTiming
  limits: Partial<ReplicaLimits>
  coreOptions: Readonly<Record<string, unknown>>
  /** `CoreConfig.maxReadysInFlight` of every replica (default: the contract's default). */
  maxReadysInFlight?: number
  /** Entries per replication message and messages in flight per follower (CoreConfig). */
  replication: NodeReplication
  /** Builds the cores of a group running `protocol` (default: the protocol's own). Tests wrap a core here to plant a bug. */
  coreFactory?: (protocol: Protocol) => CoreFactory
  /** Call every core's checkInvariants() after every event (slower, catches more). */
  checkInvariants: boolean
  /** Called as a replica applies a migration step (tests crash leaders at chosen steps). */
  onMigrationStep?: (node: SimNode, event: MigrationEvent) => void
}

export const defaultWorldOptions: Omit<WorldOptions, 'seed' | 'protocol'> = {
  replicas: 3,
  network: reliableNetwork,
  nemesis: noFaults,
  timing: { tickMs: 10, electionTimeoutTicks: 10, heartbeatTicks: 2, diskMinMs: 0.2, diskMaxMs: 1 },
  clientTiming: { requestTimeoutMs: 250, opDeadlineMs: 4000, retryBackoffMs: 15, retryBackoffMaxMs: 200, thinkMs: 2 },
  limits: { snapshotEveryEntries: 200 },
  coreOptions: {},
  replication: defaultReplication,
  checkInvariants: true,
}

export { SimulationError }

/** Events at one virtual instant past which a run is a livelock (a busy instant of a healthy run holds a few hundred). */
export const MAX_EVENTS_AT_ONE_INSTANT = 100_000


/** One simulated group: its spec and its replicas. */
export interface SimGroup {
  readonly spec: GroupSpec
  /** The controller (its machine is the shard map) or a shard group (a KV machine). */
  readonly kind: 'controller' | 'kv'
  /** Its replicas, those added by membership changes included (and those retired since). */
  readonly nodes: readonly SimNode[]
}

/** The spec of a one-group world: `replicas` replicas (an odd number) running `protocol`. */
export function singleGroupSpec(protocol: Protocol, replicas: number): ClusterSpec {
  if (replicas % 2 !== 1) throw new RangeError(`a group has 2f+1 replicas; ${replicas} is even`)
  return layoutCluster({ clusterId: 'sim', token: 'sim', f: (replicas - 1) / 2, groups: 1, protocol, basePort: 1, host: 'sim' })
}

/**
 * A simulated cluster: every group of one cluster spec, clients, network, disks and a fault
 * injector on one virtual clock, all drawing from one seeded PRNG.
 */
export class SimWorld {
  readonly options: WorldOptions
  readonly spec: ClusterSpec
  readonly queue = new EventQueue()
  private eventsThisInstant = 0
  readonly rng: Rng
  readonly net: SimNetwork
  readonly groups: readonly SimGroup[]
  /** Every replica of every group. */
  readonly nodes: SimNode[]
  readonly clients: SimClient[] = []
  readonly history = new HistoryRecorder()
  readonly trace = new Trace()
  readonly nemesis: Nemesis
  /** Per group, what each index holds once applied anywhere: every replica must apply the same. */
  private readonly appliedAt = new Map<string, Map<number, string>>()
  /** Per group, the replica that led each term. */
  private readonly leadersByTerm = new Map<string, Map<number, string>>()
  private readonly groupOf = new Map<string, string>()
  private readonly byId = new Map<string, SimNode>()
  private readonly clientsByName = new Map<string, { onReply: SimClient['onReply'] }>()
  /** Watches running beside the clients (their events are checked against the final state). */
  readonly watchers: SimWatcher[] = []
  private adminClient: SimAdmin | null = null
  /** Per group, how to start one more replica of it (membership changes). */
  private readonly replicaMakers = new Map<string, (id: string) => SimNode>()
  /** Per group, the ids clients of a one-group world may ask: it grows as replicas join. */
  private readonly serverIds = new Map<string, string[]>()
  private replicasAdded = 0

  constructor(options: Partial<WorldOptions> & { seed: number; protocol: Protocol }) {
    this.options = { ...defaultWorldOptions, ...options }
    const o = this.options
    this.rng = createRng(o.seed)
    this.spec = o.spec ?? singleGroupSpec(o.protocol, o.replicas)
    this.net = new SimNetwork(this.queue, this.rng.fork(), {
      peer: (msg) => {
        const node = this.byId.get(msg.to)
        if (node?.replica == null) return
        node.receive(() => {
          if (node.replica === null) return
          this.trace.event(1, this.queue.now, code(msg.type), code(msg.from), code(msg.to))
          node.replica.step(msg)
          this.afterEvent(node)
        })
      },
      request: (to, from, rid, req) => this.onRequest(to, from, rid, req),
      reply: (to, from, rid, resp) => {
        this.trace.event(3, this.queue.now, code(to), rid)
        this.clientsByName.get(to)?.onReply(from, rid, resp)
      },
    })
    this.net.faults = o.network
    const hooks = { committed: (n: SimNode, es: readonly Entry[]) => this.onCommitted(n, es), afterEvent: (n: SimNode) => this.afterEvent(n) }
    const controller = this.spec.controller
    const groupSpecs: Array<[GroupSpec, 'controller' | 'kv']> = [
      ...(controller === undefined ? [] : [[controller, 'controller'] as [GroupSpec, 'controller']]),
      ...this.spec.groups.map((g) => [g, 'kv'] as [GroupSpec, 'kv']),
    ]
    this.groups = groupSpecs.map(([spec, kind]) => {
      const ids = spec.replicas.map((r) => r.id)
      const makeMachine = this.machineFactory(spec)
      // The nemesis's slot-skipping leaders: a Paxos test option (Raft has no holes).
      const skip = spec.protocol === 'paxos' && o.nemesis.skipSlots.length > 0 ? { skipSlots: o.nemesis.skipSlots } : {}
      const coreOptions = { ...o.coreOptions, ...skip }
      const factory = o.coreFactory?.(spec.protocol) ?? protocols[spec.protocol]
      // Every replica is configured with the group's initial voters; one added later is not
      // among them, and learns its group from the leader (see `CoreConfig.members`).
      const make = (id: string): SimNode =>
        new SimNode(spec.id, id, ids, makeMachine, factory, coreOptions, o.limits, o.timing, this.queue, this.net, this.rng.fork(), hooks, o.replication, o.maxReadysInFlight)
      const nodes = ids.map(make)
      this.replicaMakers.set(spec.id, make)
      this.serverIds.set(spec.id, [...ids])
      for (const id of ids) this.groupOf.set(id, spec.id)
      this.appliedAt.set(spec.id, new Map())
      this.leadersByTerm.set(spec.id, new Map())
      return { spec, kind, nodes }
    })
    this.nodes = this.groups.flatMap((g) => g.nodes)
    for (const n of this.nodes) this.byId.set(n.id, n)
    this.nemesis = new Nemesis(
      o.nemesis,
      this.groups.map((g) => ({ id: g.spec.id, protocol: g.spec.protocol, nodes: g.nodes })),
      this.net,
      this.queue,
      this.rng.fork(),
      o.network,
      {
        clients: () => this.clients.map((c) => c.name),
        electionTimeoutMs: o.timing.tickMs * o.timing.electionTimeoutTicks,
        replicas: { nextId: (g: { id: string }) => this.nextReplicaId(g.id), start: (g: { id: string }, id: string) => this.addReplica(g.id, id) },
      },
    )
    for (const n of this.nodes) n.start()
  }

  get now(): number {
    return this.queue.now
  }

  /**
   * Starts a brand-new, empty replica of group `groupId` (id `<group>-m<k>`), reachable by the
   * network and by the group's clients. It is no member until a change adds it.
   */
  addReplica(groupId: string, id = this.nextReplicaId(groupId)): SimNode {
    const make = this.replicaMakers.get(groupId)
    if (make === undefined) throw new Error(`no group ${groupId}`)
    if (this.byId.has(id)) throw new Error(`replica ${id} exists`)
    this.replicasAdded++
    const node = make(id)
    const group = this.group(groupId)
    ;(group.nodes as SimNode[]).push(node)
    this.nodes.push(node)
    this.byId.set(id, node)
    this.groupOf.set(id, groupId)
    this.serverIds.get(groupId)!.push(id)
    node.start()
    return node
  }

  /** The id `addReplica` gives the next replica of `groupId`. */
  nextReplicaId(groupId: string): string {
    return `${groupId}-m${this.replicasAdded + 1}`
  }

  /** A world of more than one shard group, or with a controller: keys are placed by the ring. */
  get sharded(): boolean {
    return this.spec.controller !== undefined || this.spec.groups.length > 1
  }

  /** The shard groups (not the controller). */
  get shardGroups(): SimGroup[] {
    return this.groups.filter((g) => g.kind === 'kv')
  }

  group(id: string): SimGroup {
    const g = this.groups.find((x) => x.spec.id === id)
    if (g === undefined) throw new Error(`no group ${id}`)
    return g
  }

  /** Every replica runs the machine its group's kind says, built as the node builds it. */
  private machineFactory(spec: GroupSpec): (node: SimNode) => SimMachine {
    return (node) =>
      createGroupMachine(this.spec, spec.id, {
        limits: this.options.limits,
        onMigrationStep: (event) => {
          this.migrationSteps.push({ replica: node.id, atMs: this.queue.now, ...event })
          this.options.onMigrationStep?.(node, event)
        },
      })
  }

  /** Every migration step any replica applied, in order. */
  readonly migrationSteps: Array<MigrationEvent & { readonly replica: string; readonly atMs: number }> = []

  /** The operator: changes the shard map through the controller group (a world with a controller only). */
  get admin(): SimAdmin {
    if (this.adminClient === null) {
      const controller = this.spec.controller
      if (controller === undefined) throw new Error('this world has no controller group')
      this.adminClient = new SimAdmin('admin', controller.replicas.map((r) => r.id), this.options.clientTiming, this.queue, this.net, this.rng.fork())
      this.clientsByName.set('admin', this.adminClient)
    }
    return this.adminClient
  }

  /** How clients find their group: through the ring in a sharded world, else the one group. */
  defaultRouting(): ClientRouting {
    // The live list: clients see the replicas that join (see SimClient's replica groups).
    if (!this.sharded) return { kind: 'group', servers: this.serverIds.get(this.groups[0]!.spec.id)! }
    const controller = this.spec.controller
    return controller === undefined
      ? { kind: 'sharded', map: initialShardMap(this.spec), controller: null }
      : { kind: 'sharded', map: null, controller: controller.replicas.map((r) => r.id) }
  }

  node(id: string): SimNode {
    const n = this.byId.get(id)
    if (n === undefined) throw new Error(`no replica ${id}`)
    return n
  }

  /** Adds `count` clients running `load`, routed as `routing` says (or talking to `servers` only). */
  addClients(count: number, load: WorkloadOptions, routing: ClientRouting | readonly string[] = this.defaultRouting()): SimClient[] {
    return this.addClientsWith(count, (no) => workload(load, no), routing)
  }

  /** Adds `count` clients, client number `no` issuing what `operations(no)` generates. */
  addClientsWith(
    count: number,
    operations: (clientNo: number) => (rng: Rng) => KvInput | null,
    routing: ClientRouting | readonly string[] = this.defaultRouting(),
  ): SimClient[] {
    const added: SimClient[] = []
    const how: ClientRouting = Array.isArray(routing) ? { kind: 'group', servers: routing as readonly string[] } : (routing as ClientRouting)
    for (let i = 0; i < count; i++) {
      const no = this.clients.length + 1
      const c = new SimClient(`c${no}`, no, how, operations(no), this.options.clientTiming, this.queue, this.net, this.rng.fork(), this.history)
      this.clients.push(c)
      this.clientsByName.set(c.name, c)
      added.push(c)
      c.start()
    }
    return added
  }

  /** Starts a watch of a key or a prefix, routed like the clients. */
  addWatcher(target: WatchTarget, routing: ClientRouting = this.defaultRouting()): SimWatcher {
    const w = new SimWatcher(`w${this.watchers.length + 1}`, target, routing, this.options.clientTiming, this.queue, this.net, this.rng.fork())
    this.watchers.push(w)
    this.clientsByName.set(w.name, w)
    w.start()
    return w
  }

  /** Every key and value the shard groups hold (after `converge`: each group's replicas agree). */
  finalState(): Map<string, Uint8Array> {
    const all = new Map<string, Uint8Array>()
    for (const g of this.shardGroups) {
      const node = g.nodes.filter((n) => n.replica !== null).sort((a, b) => b.kv.appliedIndex - a.kv.appliedIndex)[0]
      if (node !== undefined) for (const [k, v] of node.kv.entries()) all.set(k, v)
    }
    return all
  }

  private onRequest(to: string, from: string, rid: number, raw: unknown): void {
    const node = this.byId.get(to)
    if (node?.replica == null) return
    node.receive(() => this.handleRequest(node, to, from, rid, raw))
  }

  private handleRequest(node: SimNode, to: string, from: string, rid: number, raw: unknown): void {
    if (node.replica === null) return
    this.trace.event(2, this.queue.now, code(to), code(from), rid)
    const parsed = parseGroupRequest(groupKind(this.spec, this.groupOf.get(to)!), raw)
    if (!parsed.ok) {
      this.net.sendReply(to, from, rid, { type: 'error', code: 'BAD_REQUEST', message: parsed.reason })
      return
    }
    // No simulated client sends membership requests (the nemesis changes membership through the cores).
    node.replica.request(parsed.request, (resp) => {
      if (resp.type !== 'members') this.net.sendReply(to, from, rid, resp)
    })
    this.afterEvent(node)
  }

  private afterEvent(node: SimNode): void {
    const replica = node.replica
    if (replica === null) return
    replica.flush()
    if (this.options.checkInvariants) replica.core.checkInvariants()
    this.checkElectionSafety(node)
  }

  /**
   * Raft §5.2 Election Safety, and its Paxos form (one proposer per ballot): at most one
   * replica of a group ever leads in a given term. A core that forgot a vote or a promise
   * across a crash can elect two; this sees it the moment the second one leads.
   */
  private checkElectionSafety(node: SimNode): void {
    const s = node.replica!.core.status()
    if (s.role !== 'leader') return
    const leaders = this.leadersByTerm.get(node.groupId)!
    const seen = leaders.get(s.term)
    if (seen === undefined) leaders.set(s.term, node.id)
    else if (seen !== node.id) throw new SimulationError(`election safety: ${seen} and ${node.id} both lead ${node.groupId} in term ${s.term}`)
  }

  private onCommitted(node: SimNode, entries: readonly Entry[]): void {
    const appliedAt = this.appliedAt.get(this.groupOf.get(node.id)!)!
    for (const e of entries) {
      // The Ready contract: an entry handed out to apply is durable on this node already.
      const held = node.disk.durableAt(e.index)
      if (held !== 'snapshot' && (held === undefined || held.term !== e.term || held.type !== e.type)) {
        throw new SimulationError(`durability: ${node.id} applies index ${e.index} (term ${e.term}) but holds ${held === undefined ? 'nothing' : `term ${held.term}`} there durably`)
      }
      const sig = e.type === 'noop' ? 'noop' : e.type === 'membership' ? `m:${e.change.type}:${e.change.id}:${e.membership.voters.join(',')}` : `d${hashBytes(e.data)}`
      const seen = appliedAt.get(e.index)
      if (seen === undefined) appliedAt.set(e.index, sig)
      else if (seen !== sig) {
        throw new SimulationError(`state machine safety: ${node.id} applies ${sig} at index ${e.index}, another replica applied ${seen}`)
      }
      this.trace.event(4, code(node.id), e.index)
    }
  }

  runFor(ms: number): void {
    this.runUntil(() => false, ms)
  }

  /**
   * Runs events until `done()` holds or `maxMs` of virtual time passed; returns whether it held.
   * Throws when `MAX_EVENTS_AT_ONE_INSTANT` events run without virtual time moving: replicas
   * that keep handing each other work at one instant (a Ready loop that never settles) would
   * otherwise spin forever, and the verdict would become the caller's wall-clock timeout.
   */
  runUntil(done: () => boolean, maxMs: number): boolean {
    const until = this.queue.now + maxMs
    while (!done()) {
      const before = this.queue.now
      if (!this.queue.runNext(until)) {
        this.queue.now = Math.max(this.queue.now, until)
        return done()
      }
      if (this.queue.now !== before) this.eventsThisInstant = 0
      else if (++this.eventsThisInstant > MAX_EVENTS_AT_ONE_INSTANT) {
        throw new SimulationError(`livelock: ${MAX_EVENTS_AT_ONE_INSTANT.toLocaleString('en-US')} events at t=${this.queue.now}ms without virtual time moving`)
      }
    }
    return true
  }

  /** The replica of `group` (the first shard group by default) that leads at the highest term, if any is alive and leading. */
  leader(group: SimGroup = this.shardGroups[0]!): SimNode | null {
    let best: SimNode | null = null
    let bestTerm = -1
    for (const n of group.nodes) {
      const s = n.replica?.core.status()
      if (s?.role === 'leader' && s.term > bestTerm) {
        best = n
        bestTerm = s.term
      }
    }
    return best
  }

  /** Stop injecting faults, heal everything, restart the dead, and let clients finish. */
  quiesce(maxMs = 30_000): boolean {
    this.nemesis.stop()
    this.net.heal()
    this.net.faults = reliableNetwork
    for (const n of this.nodes) {
      if (!n.alive) n.start()
      else if (n.paused) n.resume()
    }
    for (const c of this.clients) c.stop()
    return this.runUntil(() => this.clients.every((c) => c.idle) && (this.adminClient?.idle ?? true), maxMs)
  }

  /** After quiescing: in every group, every replica applies the same index and holds the same data. */
  converge(maxMs = 10_000): boolean {
    return this.runUntil(() => this.groups.every((g) => converged(g)) && this.migrationsSettled(), maxMs)
  }

  /** The newest shard map epoch any controller replica has applied (0 without a controller). */
  controllerEpoch(): number {
    let epoch = 0
    for (const g of this.groups) {
      if (g.kind !== 'controller') continue
      for (const n of g.nodes) {
        const m = n.replica?.stateMachine
        if (m instanceof ControllerMachine) epoch = Math.max(epoch, m.current?.epoch ?? 0)
      }
    }
    return epoch
  }

  /** Every live member of every shard group is at the controller's newest epoch with no move under way. */
  migrationsSettled(): boolean {
    if (this.spec.controller === undefined) return true
    const epoch = this.controllerEpoch()
    return this.shardGroups.every((g) => liveMembers(g).every((n) => n.kv.shards?.settled === true && n.kv.shards.epoch === epoch))
  }
}

/**
 * The group's running replicas that are members, as its most advanced running replica sees
 * the membership: one removed from the group stops where it was, one never admitted has nothing.
 */
export function liveMembers(group: SimGroup): SimNode[] {
  const running = group.nodes.filter((n) => n.replica !== null)
  const ahead = running.reduce<SimNode | undefined>((a, n) => (a === undefined || n.replica!.core.status().commitIndex > a.replica!.core.status().commitIndex ? n : a), undefined)
  if (ahead === undefined) return []
  const membership = ahead.replica!.core.status().membership
  return running.filter((n) => isMember(membership, n.id))
}

/** Every live member (as the most advanced live replica sees the membership) has applied
 * everything committed, and they hold the same data. Replicas removed (or never added) are
 * not held to it. */
function converged(group: SimGroup): boolean {
  const running = group.nodes.filter((n) => n.replica !== null).map((n) => n.replica!)
  const ahead = running.reduce<(typeof running)[number] | undefined>((a, r) => (a === undefined || r.core.status().commitIndex > a.core.status().commitIndex ? r : a), undefined)
  if (ahead === undefined) return false
  const membership = ahead.core.status().membership
  const live = running.filter((r) => isMember(membership, r.core.status().id))
  const applied = live.map((r) => r.stateMachine.appliedIndex)
  const commit = Math.max(...live.map((r) => r.core.status().commitIndex))
  if (applied.some((a) => a !== commit)) return false
  const digests = new Set(live.map((r) => r.stateMachine.digest()))
  return digests.size === 1
}

function hashBytes(b: Uint8Array): string {
  let h = 0x811c9dc5
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193) >>> 0
  return `${h.toString(16)}.${b.length}`
}
