import type { Rng } from '@kv/consensus'
import {
  backoffMs,
  CallRound,
  ReplicaGroup,
  ShardRouter,
  WatchMerge,
  type ClientResponse,
  type ReplicaStatus,
  type WatchEvent,
  type WatchOp,
  type ShardMap,
  type WireRevision,
} from '@kv/protocol'
import type { ClientRouting, ClientTiming } from './client.js'
import type { EventQueue } from './event-queue.js'
import type { SimNetwork } from './network.js'
import { notLeaderVerdict } from './hints.js'

/** What a simulated watcher follows: one key, or every key with a prefix. */
export type WatchTarget = { readonly key: string } | { readonly prefix: string }

/** One request in flight: a stream's poll, or a map fetch. */
interface Poll {
  readonly stream: string | null
  /** A fetch of the map of one epoch (not the newest): its answer goes here. */
  readonly onMapAt?: (map: ShardMap | null) => void
  readonly message: { readonly type: string }
  group: ReplicaGroup<string>
  round: CallRound<string>
  rounds: number
  rid: number
}

const WAIT_MS = 200
/** Few events per poll and a pause before the next: watchers lag behind, so moves catch them mid-way. */
const MAX_EVENTS = 8
const MAX_PAUSE_MS = 150
const PAUSE_CHANCE = 0.3
const KEY_STREAM = '(key)'

/**
 * A simulated watch that decides like `@kv/client`'s: long polls of the key's group from the
 * last revision it received (moving on after WRONG_SHARD to the group the newest map names), or
 * one stream per group of the map merged by `@kv/protocol`'s `WatchMerge` for a prefix. Every
 * event it hands out lands in `events`, in order: the simulator then checks them against the
 * replicas' final state (no gap, no repeat, each key in order) after faults and migrations.
 */
export class SimWatcher {
  readonly events: WatchEvent[] = []
  readonly problems: string[] = []
  private router: ShardRouter | null
  private readonly groups = new Map<string, ReplicaGroup<string>>()
  private readonly controller: ReplicaGroup<string> | null
  private readonly polls = new Map<number, Poll>()
  private rid = 0
  private stopped = false
  /** Key watch: received through. */
  private position: WireRevision = [0, 0]
  private keyGroup: string | null = null
  /** The epoch of the map that named `keyGroup`. */
  private routedAt = 0
  private merge: WatchMerge | null = null
  private fetchingMap = false
  private readonly afterMap: Array<() => void> = []

  constructor(
    readonly name: string,
    readonly target: WatchTarget,
    private readonly routing: ClientRouting,
    private readonly timing: ClientTiming,
    private readonly queue: EventQueue,
    private readonly net: SimNetwork,
    private readonly rng: Rng,
  ) {
    this.router = routing.kind === 'sharded' && routing.map !== null ? new ShardRouter(routing.map) : null
    this.controller = routing.kind === 'sharded' && routing.controller !== null ? this.group('ctl', routing.controller) : null
  }

  start(): void {
    if (this.routing.kind === 'sharded' && this.router === null) return this.fetchMap(() => this.start())
    if ('key' in this.target) return this.pollKey()
    const ids = this.groupIds()
    this.merge = new WatchMerge(this.router?.epoch ?? 0, ids.map((id) => [id, [0, 0]] as const))
    for (const id of ids) this.pollStream(id)
  }

  stop(): void {
    this.stopped = true
  }

  private groupIds(): string[] {
    return this.router === null ? ['group'] : this.router.map.groups.map((g) => g.id)
  }

  private group(id: string, servers?: readonly string[]): ReplicaGroup<string> {
    let g = this.groups.get(id)
    if (g === undefined) {
      const ids = servers ?? (this.routing.kind === 'group' ? this.routing.servers : this.router!.map.groups.find((x) => x.id === id)!.replicas.map((r) => r.id))
      g = new ReplicaGroup(id, ids.map((s) => ({ address: s, id: s })), (s) => s)
      this.groups.set(id, g)
    }
    return g
  }

  private pollKey(): void {
    if (this.stopped || !('key' in this.target)) return
    const key = this.target.key
    if (this.keyGroup === null) {
      this.keyGroup = this.router === null ? 'group' : this.router.groupOf(key).id
      this.routedAt = this.router?.epoch ?? 0
    }
    const op: WatchOp = { op: 'watch', key, fromRevision: this.position, maxEvents: MAX_EVENTS, waitMs: WAIT_MS }
    this.send(KEY_STREAM, this.group(this.keyGroup), op)
  }

  private pollStream(id: string): void {
    if (this.stopped || this.merge === null || !this.merge.isActive(id) || !('prefix' in this.target)) return
    const from = this.merge.active().find((a) => a.id === id)!.from
    const op: WatchOp = { op: 'watch', prefix: this.target.prefix, fromRevision: from, maxEvents: MAX_EVENTS, waitMs: WAIT_MS }
    this.send(id, this.group(id), op)
  }

  private send(stream: string | null, group: ReplicaGroup<string>, op: WatchOp | { op: 'getMap'; epoch?: number }, onMapAt?: (map: ShardMap | null) => void): void {
    const message = op.op === 'getMap'
      ? { type: 'controller', clientId: this.name, seq: 0, ackedSeq: 0, op }
      : { type: 'kv', clientId: this.name, seq: 0, ackedSeq: 0, op }
    this.attempt({ stream, message, group, round: new CallRound(group), rounds: 0, rid: 0, ...(onMapAt === undefined ? {} : { onMapAt }) })
  }

  private attempt(poll: Poll): void {
    if (this.stopped) return
    const to = poll.round.next()
    if (to === null) {
      const delay = backoffMs(poll.rounds++, { minMs: this.timing.retryBackoffMs, maxMs: this.timing.retryBackoffMaxMs }, () => this.rng.next())
      this.queue.after(delay, () => {
        poll.round = new CallRound(poll.group)
        this.attempt(poll)
      })
      return
    }
    const rid = ++this.rid
    poll.rid = rid
    this.polls.set(rid, poll)
    this.net.sendRequest(this.name, to, rid, poll.message as never)
    this.queue.after(this.timing.requestTimeoutMs + WAIT_MS, () => {
      if (!this.polls.delete(rid)) return
      poll.round.report(to, { kind: 'failed' })
      this.attempt(poll)
    })
  }

  onReply(from: string, rid: number, resp: ClientResponse | ReplicaStatus): void {
    const poll = this.polls.get(rid)
    if (poll === undefined || resp.type === 'status') return
    this.polls.delete(rid)
    if (resp.type === 'result') {
      poll.round.report(from, { kind: 'done' })
      const r = resp.result
      if (r.type === 'shardMap') return poll.onMapAt !== undefined ? poll.onMapAt(r.map) : this.onMap(r.map === null ? null : new ShardRouter(r.map))
      if (r.type !== 'events') return void this.problems.push(`${this.name}: a watch answered with ${r.type}`)
      return this.onEvents(poll, r)
    }
    switch (resp.code) {
      case 'NOT_LEADER':
        poll.round.report(from, notLeaderVerdict(resp.leader))
        return this.attempt(poll)
      case 'WRONG_SHARD':
        if (poll.stream !== KEY_STREAM) return void this.problems.push(`${this.name}: WRONG_SHARD to a prefix watch`)
        // The key moved on (its old group has handed out everything it had): the next map in
        // which another group owns it names the next group (as @kv/client's watch does).
        return this.fetchMap(() => this.nextOwner())
      case 'COMPACTED':
        return void this.problems.push(`${this.name}: COMPACTED from ${poll.stream === KEY_STREAM ? this.position.join('.') : '?'} at ${poll.group.id} (${from}) at ${this.queue.now.toFixed(0)} ms: ${resp.message}`)
      case 'BAD_REQUEST':
      case 'SESSION_EXPIRED':
        return void this.problems.push(`${this.name}: ${resp.code} ${resp.message}`)
      case 'TIMEOUT':
      case 'UNAVAILABLE':
        poll.round.report(from, { kind: 'failed' })
        return this.attempt(poll)
    }
  }

  private onEvents(poll: Poll, r: Extract<ClientResponse, { type: 'result' }>['result'] & { type: 'events' }): void {
    const pause = (then: () => void) => this.queue.after(this.rng.chance(PAUSE_CHANCE) ? this.rng.next() * MAX_PAUSE_MS : 0, then)
    if (poll.stream === KEY_STREAM) {
      this.events.push(...r.events)
      this.position = r.progress
      return pause(() => this.pollKey())
    }
    const merge = this.merge!
    merge.onAnswer(poll.stream!, r)
    this.events.push(...merge.take())
    const next = () => pause(() => this.pollStream(poll.stream!))
    if (merge.needsMap()) return this.fetchMap(next)
    next()
  }

  /** Walks the maps after the one that named the key's group to the first that names another. */
  private nextOwner(): void {
    const key = (this.target as { key: string }).key
    const newest = this.router!.epoch
    const step = (epoch: number): void => {
      if (epoch > newest) {
        this.queue.after(this.timing.retryBackoffMs, () => this.pollKey())
        return
      }
      const check = (map: ShardMap | null): void => {
        if (map === null) return step(epoch + 1)
        this.routedAt = epoch
        const owner = new ShardRouter(map).groupOf(key)
        if (owner.id === this.keyGroup) return step(epoch + 1)
        this.keyGroup = owner.id
        this.group(owner.id, owner.replicas.map((r) => r.id))
        this.queue.after(this.timing.retryBackoffMs, () => this.pollKey())
      }
      if (epoch === newest) return check(this.router!.map)
      this.send(null, this.controller!, { op: 'getMap', epoch }, check)
    }
    step(this.routedAt + 1)
  }

  private fetchMap(then: () => void): void {
    this.afterMap.push(then)
    if (this.fetchingMap) return
    if (this.controller === null) return this.onMap(null)
    this.fetchingMap = true
    this.send(null, this.controller, { op: 'getMap' })
  }

  private onMap(router: ShardRouter | null): void {
    this.fetchingMap = false
    if (router !== null && (this.router === null || router.epoch > this.router.epoch)) {
      this.router = router
      const merge = this.merge
      if (merge !== null) {
        const before = new Set(merge.active().map((a) => a.id))
        merge.onMap(router.epoch, router.map.groups.map((g) => g.id))
        for (const g of router.map.groups) this.group(g.id, g.replicas.map((r) => r.id))
        for (const { id } of merge.active()) if (!before.has(id)) this.pollStream(id)
        this.events.push(...merge.take())
      }
    }
    if (this.router === null) {
      this.queue.after(this.timing.retryBackoffMaxMs, () => this.fetchMap(() => {}))
      return
    }
    for (const then of this.afterMap.splice(0)) then()
  }
}
