import type { Rng } from '@kv/consensus'
import {
  backoffMs,
  CallRound,
  ReplicaGroup,
  ShardRouter,
  type ClientResponse,
  type KvOp,
  type ReplicaStatus,
  type ShardMap,
} from '@kv/protocol'
import type { EventQueue } from './event-queue.js'
import type { HistoryRecorder, KvInput, KvOutput } from './linearizability/index.js'
import type { SimNetwork } from './network.js'
import { notLeaderVerdict } from './hints.js'

export interface ClientTiming {
  /** Wait this long for an answer before trying the next replica with the same request. */
  requestTimeoutMs: number
  /** Give up on an operation after this long; its outcome is then unknown. */
  opDeadlineMs: number
  /** Pause after a round of the group's replicas failed: from this, doubling (with jitter)... */
  retryBackoffMs: number
  /** ...up to this. */
  retryBackoffMaxMs: number
  /** Pause between one operation's answer and the next call. */
  thinkMs: number
}

/** Where a client sends what: one group's replicas, or a sharded cluster (a map, fixed or from the controller). */
export type ClientRouting =
  | { readonly kind: 'group'; readonly servers: readonly string[] }
  | { readonly kind: 'sharded'; readonly map: ShardMap | null; readonly controller: readonly string[] | null }

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** One request to one group: a client operation (or one group's part of a batch), or a map fetch. */
interface InFlight {
  readonly kind: 'op' | 'map'
  /** History id of the operation, -1 for a map fetch. */
  readonly opId: number
  readonly input: KvInput | null
  readonly message: { readonly type: string; readonly seq: number }
  /** The keys it touches (all in one group when sent). */
  readonly keys: readonly string[]
  readonly startedAt: number
  group: ReplicaGroup<string>
  rid: number
  round: CallRound<string>
  rounds: number
}

/**
 * A simulated client that decides like the real one (`@kv/protocol`'s ShardRouter, CallRound
 * and backoff): keys go to the group the shard map names; a request never answered is resent
 * to the next replica under the same session seq, so it applies at most once; NOT_LEADER
 * hints are followed; WRONG_SHARD refreshes the map and sends the request, unchanged, to the
 * group that owns it now. A batch spanning groups is one request per group, each its own
 * operation in the history (each group's part is atomic; the parts are not). One request at a
 * time, like a kvraft clerk.
 */
export class SimClient {
  private seq = 0
  private ackedSeq = 0
  private rid = 0
  private current: InFlight | null = null
  /** Requests still to send for the operation under way (the other groups' parts of a batch). */
  private queued: Array<() => InFlight | null> = []
  private router: ShardRouter | null
  private readonly groups = new Map<string, ReplicaGroup<string>>()
  private readonly controller: ReplicaGroup<string> | null
  private stopped = false
  completed = 0
  gaveUp = 0
  unexpected: string[] = []

  constructor(
    readonly name: string,
    readonly clientNo: number,
    private readonly routing: ClientRouting,
    private readonly next: (rng: Rng) => KvInput | null,
    private readonly timing: ClientTiming,
    private readonly queue: EventQueue,
    private readonly net: SimNetwork,
    private readonly rng: Rng,
    private readonly history: HistoryRecorder,
  ) {
    this.router = routing.kind === 'sharded' && routing.map !== null ? new ShardRouter(routing.map) : null
    this.controller = routing.kind === 'sharded' && routing.controller !== null ? this.replicaGroup('controller', routing.controller) : null
  }

  get idle(): boolean {
    return this.current === null
  }

  start(): void {
    this.queue.after(this.rng.next() * this.timing.thinkMs, () => this.startNext())
  }

  /** Finish the operation in flight, then make no new call. */
  stop(): void {
    this.stopped = true
  }

  private replicaGroup(id: string, servers: readonly string[]): ReplicaGroup<string> {
    let g = this.groups.get(id)
    // Replicas joined the group since (membership changes): ask them too.
    if (g !== undefined && g.addresses.length < servers.length) for (const s of servers) g.add(s, s)
    if (g === undefined) {
      g = new ReplicaGroup(id, servers.map((s) => ({ address: s, id: s })), (s) => s)
      // Start somewhere random, as a real client's first pick depends on which replica it reaches.
      const start = this.rng.int(servers.length)
      for (let i = 0; i < start; i++) g.doubt(servers[i]!)
      this.groups.set(id, g)
    }
    return g
  }

  /** The group that serves all of `keys` now, or null (no map yet, or they span groups). */
  private groupFor(keys: readonly string[]): ReplicaGroup<string> | null {
    if (this.routing.kind === 'group') return this.replicaGroup('group', this.routing.servers)
    if (this.router === null) return null
    const spec = this.router.groupOf(keys[0]!)
    if (keys.some((k) => this.router!.groupOf(k).id !== spec.id)) return null
    return this.replicaGroup(spec.id, spec.replicas.map((r) => r.id))
  }

  private startNext(): void {
    if (this.stopped || this.current !== null) return
    if (this.routing.kind === 'sharded' && this.router === null) return this.fetchMap()
    const input = this.next(this.rng)
    if (input === null) return
    for (const part of this.parts(input)) this.queued.push(() => this.begin(part))
    this.sendQueued()
  }

  /** A batch spanning groups becomes one operation per group; anything else stays whole. */
  private parts(input: KvInput): KvInput[] {
    if (input.op !== 'batchPut' || this.router === null) return [input]
    return [...this.router.split(input.entries.map(([k]) => k)).values()].map((positions) => ({
      op: 'batchPut',
      entries: positions.map((i) => input.entries[i]!),
    }))
  }

  private begin(input: KvInput): InFlight | null {
    const op = toOp(input)
    const seq = op.op === 'get' ? 0 : ++this.seq
    const keys = op.op === 'batchPut' ? op.entries.map(([k]) => k) : [op.key]
    const opId = this.history.invoke(this.clientNo, input, this.queue.now)
    const group = this.groupFor(keys)!
    return {
      kind: 'op', opId, input, keys, startedAt: this.queue.now, group, rid: 0, round: new CallRound(group), rounds: 0,
      message: { type: 'kv', clientId: this.name, seq, ackedSeq: this.ackedSeq, op } as { type: string; seq: number },
    }
  }

  private sendQueued(): void {
    const make = this.queued.shift()
    if (make === undefined) {
      this.queue.after(this.rng.next() * this.timing.thinkMs, () => this.startNext())
      return
    }
    this.current = make()
    this.attempt()
  }

  private fetchMap(): void {
    if (this.controller === null) return
    const group = this.controller
    this.current = {
      kind: 'map', opId: -1, input: null, keys: [], startedAt: this.queue.now, group, rid: 0, round: new CallRound(group), rounds: 0,
      message: { type: 'controller', clientId: this.name, seq: 0, ackedSeq: this.ackedSeq, op: { op: 'getMap' } } as { type: string; seq: number },
    }
    this.attempt()
  }

  private attempt(): void {
    const op = this.current
    if (op === null) return
    if (this.queue.now - op.startedAt > this.timing.opDeadlineMs) return this.giveUp(op)
    const to = op.round.next()
    if (to === null) return this.backOff(op)
    op.rid = ++this.rid
    const rid = op.rid
    this.net.sendRequest(this.name, to, rid, op.message as never)
    this.queue.after(this.timing.requestTimeoutMs, () => {
      if (this.current !== op || op.rid !== rid) return
      op.round.report(to, { kind: 'failed' })
      this.attempt()
    })
  }

  /** Every replica failed this round: back off, then a new round (as the real client does). */
  private backOff(op: InFlight): void {
    const bounds = { minMs: this.timing.retryBackoffMs, maxMs: this.timing.retryBackoffMaxMs }
    const delay = backoffMs(op.rounds++, bounds, () => this.rng.next())
    op.rid = -1
    this.queue.after(delay, () => {
      if (this.current !== op) return
      op.round = new CallRound(op.group)
      this.attempt()
    })
  }

  onReply(from: string, rid: number, resp: ClientResponse | ReplicaStatus): void {
    const op = this.current
    if (op === null || rid !== op.rid || resp.type === 'status') return
    op.rid = -1 // this attempt is over; ignore its timer
    if (resp.type === 'result') {
      op.round.report(from, { kind: 'done' })
      if (op.kind === 'map') return this.onMap(resp)
      return this.finish(op, toOutput(resp))
    }
    switch (resp.code) {
      case 'NOT_LEADER':
        op.round.report(from, notLeaderVerdict(resp.leader))
        break
      case 'UNAVAILABLE':
      case 'TIMEOUT':
        op.round.report(from, { kind: 'failed' })
        break
      case 'WRONG_SHARD':
        if (this.routing.kind === 'sharded') return this.reroute(op)
        this.unexpected.push(`${this.name} ${JSON.stringify(op.input)}: WRONG_SHARD from a group that owns every key`)
        return this.giveUp(op)
      case 'BAD_REQUEST':
      case 'SESSION_EXPIRED':
      case 'COMPACTED':
        // None can happen to a well-behaved client: a bug under test.
        this.unexpected.push(`${this.name} ${JSON.stringify(op.input)}: ${resp.code} ${resp.message}`)
        return this.giveUp(op)
    }
    this.attempt()
  }

  /**
   * The group does not serve the keys (it lost them, or has not received them yet). Learn the
   * newest map, then send the same request (same seq) to the group that owns the keys now:
   * the session moved with the keys, so a write that was applied before it moved is answered,
   * not applied again. A part whose keys now span groups cannot be resent as it is: its outcome
   * is unknown, as after a timeout.
   */
  private reroute(op: InFlight): void {
    const resend = () => {
      if (this.current !== op) return
      const group = this.groupFor(op.keys)
      if (group === null) return this.giveUp(op)
      op.group = group
      op.round = new CallRound(group)
      this.attempt()
    }
    const delay = backoffMs(op.rounds++, { minMs: this.timing.retryBackoffMs, maxMs: this.timing.retryBackoffMaxMs }, () => this.rng.next())
    this.queue.after(delay, () => {
      if (this.current !== op) return
      if (this.controller === null) return resend()
      // Fetch the newest map first; the request itself waits as it is.
      this.current = null
      this.fetchMapThen(() => {
        this.current = op
        resend()
      })
    })
  }

  private afterMap: (() => void) | null = null

  private fetchMapThen(then: () => void): void {
    this.afterMap = then
    this.fetchMap()
  }

  private onMap(resp: Extract<ClientResponse, { type: 'result' }>): void {
    const r = resp.result
    if (r.type === 'shardMap' && r.map !== null && (this.router === null || r.map.epoch > this.router.epoch)) this.router = new ShardRouter(r.map)
    this.current = null
    const then = this.afterMap
    this.afterMap = null
    if (this.router === null) {
      // The controller has no map yet: ask again shortly.
      this.queue.after(this.timing.retryBackoffMaxMs, () => (then === null ? this.startNext() : this.fetchMapThen(then)))
      return
    }
    if (then !== null) return then()
    this.startNext()
  }

  private finish(op: InFlight, output: KvOutput): void {
    this.history.complete(op.opId, output, this.queue.now)
    this.completed++
    this.done(op)
  }

  private giveUp(op: InFlight): void {
    if (op.kind === 'map' && this.afterMap !== null) {
      // No map this time: the waiting request goes on with the one it has (and its own deadline).
      const then = this.afterMap
      this.afterMap = null
      this.current = null
      return then()
    }
    if (op.kind === 'op') {
      this.history.completeUnknown(op.opId)
      this.gaveUp++
    }
    this.done(op)
  }

  private done(op: InFlight): void {
    // One request at a time: its answer (or our giving up on it) acknowledges its seq, so a
    // late copy of it can never apply after the next one.
    if (op.message.seq > 0) this.ackedSeq = op.message.seq
    this.current = null
    if (op.kind === 'map') {
      this.queue.after(this.rng.next() * this.timing.thinkMs, () => this.startNext())
      return
    }
    this.sendQueued()
  }
}

function toOp(input: KvInput): Exclude<KvOp, { op: 'scan' | 'watch' }> {
  switch (input.op) {
    case 'get':
      return { op: 'get', key: input.key }
    case 'delete':
      return { op: 'delete', key: input.key }
    case 'put':
    case 'append':
      return { op: input.op, key: input.key, value: encoder.encode(input.value) }
    case 'batchPut':
      return { op: 'batchPut', entries: input.entries.map(([k, v]) => [k, encoder.encode(v)] as const) }
  }
}

function toOutput(resp: Extract<ClientResponse, { type: 'result' }>): KvOutput {
  const r = resp.result
  switch (r.type) {
    case 'value':
      return { type: 'value', value: r.value === null ? null : decoder.decode(r.value) }
    case 'deleted':
      return { type: 'deleted', existed: r.existed }
    case 'ok':
      return { type: 'ok' }
    case 'shardMap':
    case 'epoch':
      throw new Error(`a KV operation answered with a controller result (${r.type})`)
    case 'scan':
    case 'events':
      throw new Error(`a get, put, append, delete or batchPut answered with a ${r.type} result`)
  }
}
