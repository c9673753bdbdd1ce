import { checkControllerOp, formatRevision, groupSpecSchema, type ControllerOp, type GroupSpec, type KvOp, type MemberRequest, type OpResult, type ShardMap, type WriteOp } from '@kv/protocol'
import { notLeaderOutcome, runCall, type CallEnv, type CallPlan } from './call.js'
import { parseEndpoint, type Endpoint } from './config.js'
import { CallScope } from './deadline.js'
import { Admission } from './admission.js'
import { BadRequestError, ClosedError, KvError, PartialBatchError, UnavailableError, type BatchPart } from './errors.js'
import { batchOp, checkOp, interpretKvReply, toBytes, type BatchEntries, type Value } from './ops.js'
import { discoverCluster } from './discovery.js'
import { resolveOptions, type ClientOptions, type ConnectOptions } from './options.js'
import { ConnectionPool } from './pool.js'
import { parseClientResponse, parseMembersResponse, parseReplicaStatus, type MembersView, type ReplicaStatus } from './response.js'
import type { EndpointGroup, Router } from './router.js'
import { WriteSession } from './session.js'
import type { ClientInternals } from './internals.js'
import { scanPage, type ScanOptions, type ScanPage, type ScanRange } from './scan.js'
import { Watch, type WatchOptions, type WatchTarget } from './watch.js'

/** The last argument of every call. */
export interface CallOptions {
  /** Deadline of this call in ms (default: the client's `timeoutMs`). */
  readonly timeoutMs?: number
  /** Abandons the call with AbortError. */
  readonly signal?: AbortSignal
}

export interface GetOptions extends CallOptions {
  /** Read from any replica without a linearizability check: fast, possibly stale. */
  readonly stale?: boolean
}

const decoder = new TextDecoder()

/**
 * A client of one kv cluster. Calls may run concurrently: they are pipelined over one
 * connection per replica. Writes are exactly-once within this client's session.
 */
export class KvClient {
  readonly #router: Router
  readonly #env: CallEnv
  readonly #session = new WriteSession()
  readonly #admission: Admission
  /** Calls in flight, cancelled by `close`. */
  readonly #scopes = new Set<CallScope>()
  /** The shard-map fetch under way, shared by every call that needs it. */
  #mapFetch: Promise<void> | null = null
  #closed: Promise<void> | null = null

  constructor(options: ClientOptions) {
    const o = resolveOptions(options)
    this.#router = o.router
    const pool = new ConnectionPool({
      clusterId: o.clusterId,
      token: o.token,
      connectTimeoutMs: o.limits.connectTimeoutMs,
      logger: o.logger,
      connector: o.connector,
      onWelcome: (endpoint, nodeId) => o.router.learn(endpoint, nodeId),
    })
    this.#env = { pool, limits: o.limits, logger: o.logger, random: o.random }
    this.#admission = new Admission(this.#session, o.limits)
  }

  /**
   * A client from some replicas' addresses and the token alone (what `kv --endpoints` does):
   * asks them for the cluster's topology (`discoverCluster`: in order, a few bounded rounds),
   * then routes exactly as a client created from the whole cluster.json. Rejects with
   * UnavailableError naming each endpoint's failure when none answered.
   */
  static async connect(options: ConnectOptions): Promise<KvClient> {
    const topology = await discoverCluster(options)
    const { endpoints: _endpoints, clusterId: _clusterId, signal: _signal, ...common } = options
    return new KvClient({ ...common, topology })
  }

  /** This client's session id (sent with every request). */
  get clientId(): string {
    return this.#session.clientId
  }

  /** Every write with seq ≤ this has been answered or abandoned. */
  get ackedSeq(): number {
    return this.#session.ackedSeq
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array | null> {
    const op: Extract<KvOp, { op: 'get' }> = options.stale === true ? { op: 'get', key, stale: true } : { op: 'get', key }
    const result = await this.#read(op, options)
    return result.type === 'value' ? result.value : null
  }

  /**
   * The value and the revision of its group it was read at ("<epoch>.<index>"): a key watch from
   * that revision hands out exactly the changes after this value.
   */
  async getWithRevision(key: string, options: CallOptions = {}): Promise<{ value: Uint8Array | null; revision: string }> {
    const result = await this.#read({ op: 'get', key, withRevision: true }, options)
    if (result.type !== 'value' || result.revision === undefined) throw new KvError('PROTOCOL_ERROR', `get ${JSON.stringify(key)}: the replica answered without a revision`)
    return { value: result.value, revision: formatRevision(result.revision) }
  }

  /**
   * One page of the keys in a range (`{ prefix }` or `{ start, end }`, end exclusive), in key
   * order across every shard group: `{ entries, continuation }`; pass `continuation` back for the
   * next page (null: none). Each group's part is linearizable; a page across groups is not one
   * atomic snapshot.
   */
  async scan(range: ScanRange, options: ScanOptions = {}): Promise<ScanPage> {
    this.#assertOpen()
    return scanPage(this.#internals, range, options)
  }

  /**
   * Every change of `key` (or of every key with `{ prefix }`) after `fromRevision` (default: from
   * now), in commit order, each once: `for await (const ev of kv.watch('k')) ...`. See `Watch`.
   */
  watch(target: WatchTarget, options: WatchOptions = {}): Watch {
    this.#assertOpen()
    return new Watch(this.#internals, target, options)
  }

  get #internals(): ClientInternals {
    const readWith = <T>(plan: CallPlan<T>, options: { timeoutMs: number; signal?: AbortSignal | undefined; holdMs?: number }) => this.#readWith(plan, options)
    return {
      router: this.#router,
      limits: this.#env.limits,
      logger: this.#env.logger,
      random: this.#env.random,
      clientId: this.#session.clientId,
      wireAckedSeq: () => this.#session.wireAckedSeq,
      ensureMap: (refresh) => this.#ensureMap(refresh),
      mapAt: (epoch) => (this.#router.controller === null ? Promise.resolve(null) : this.shardMap({ epoch })),
      read: readWith,
    }
  }

  #readWith<T>(plan: CallPlan<T>, options: { timeoutMs: number; signal?: AbortSignal | undefined; holdMs?: number }): Promise<T> {
    this.#assertOpen()
    const holdMs = options.holdMs ?? 0
    // A held poll takes up to holdMs before its answer: each attempt waits that much longer.
    const env = holdMs === 0 ? this.#env : { ...this.#env, limits: { ...this.#env.limits, maxAttemptTimeoutMs: this.#env.limits.maxAttemptTimeoutMs + holdMs } }
    return this.#run('read', { timeoutMs: options.timeoutMs, ...(options.signal === undefined ? {} : { signal: options.signal }) }, () => plan, env)
  }

  async getString(key: string, options: GetOptions = {}): Promise<string | null> {
    const value = await this.get(key, options)
    return value === null ? null : decoder.decode(value)
  }

  async put(key: string, value: Value, options: CallOptions = {}): Promise<void> {
    await this.#write(() => ({ op: 'put', key, value: toBytes(value, 'put') }), options)
  }

  /** Resolves true when the key existed. */
  async delete(key: string, options: CallOptions = {}): Promise<boolean> {
    const result = await this.#write(() => ({ op: 'delete', key }), options)
    return result.type === 'deleted' && result.existed
  }

  async append(key: string, value: Value, options: CallOptions = {}): Promise<void> {
    await this.#write(() => ({ op: 'append', key, value: toBytes(value, 'append') }), options)
  }

  /**
   * Writes every entry. Entries of one group are one atomic step; a batch spanning groups is
   * one step per group, sent in parallel, and if any part fails the call rejects with a
   * `PartialBatchError` naming what each part did (see its docs).
   */
  async batchPut(entries: BatchEntries, options: CallOptions = {}): Promise<void> {
    this.#assertOpen()
    const op = batchOp(entries)
    checkOp(op)
    if (op.op !== 'batchPut') return
    await this.#ensureMap()
    const parts = this.#router.split(op.entries.map(([k]) => k))
    if (parts.length <= 1) {
      await this.#write(() => op, options)
      return
    }
    const settled = await Promise.allSettled(
      parts.map(({ positions }) => this.#write(() => ({ op: 'batchPut', entries: positions.map((i) => op.entries[i]!) }), options)),
    )
    if (settled.every((r) => r.status === 'fulfilled')) return
    const report: BatchPart[] = settled.map((r, i) => {
      const { group, positions } = parts[i]!
      const keys = positions.map((p) => op.entries[p]![0])
      if (r.status === 'fulfilled') return { group: group.id, keys, outcome: 'applied' }
      const error = r.reason instanceof KvError ? r.reason : new KvError('PROTOCOL_ERROR', String(r.reason))
      return { group: group.id, keys, outcome: 'failed', error }
    })
    throw new PartialBatchError(report)
  }

  /** The controller's newest shard map (or the map at `epoch`); null when it has none. */
  async shardMap(options: CallOptions & { epoch?: number } = {}): Promise<ShardMap | null> {
    const op: ControllerOp = options.epoch === undefined ? { op: 'getMap' } : { op: 'getMap', epoch: options.epoch }
    const result = await this.#controllerCall(op, 'read', options)
    return result.type === 'shardMap' ? result.map : null
  }

  /**
   * Adds a shard group to the map; its keys migrate to it while clients work. Resolves with the
   * new epoch. Adding a group already in the map with the same replicas is a no-op (the current
   * epoch); with other replicas it is refused (BadRequestError).
   */
  async addShardGroup(group: GroupSpec, options: CallOptions = {}): Promise<number> {
    const checked = groupSpecSchema.safeParse(group)
    if (!checked.success) throw new BadRequestError(`addShardGroup: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
    const result = await this.#controllerCall({ op: 'addGroup', group: checked.data }, 'write', options)
    return result.type === 'epoch' ? result.epoch : 0
  }

  /** Removes a shard group from the map; its keys migrate to the others. Resolves with the new epoch. */
  async removeShardGroup(groupId: string, options: CallOptions = {}): Promise<number> {
    const result = await this.#controllerCall({ op: 'removeGroup', groupId }, 'write', options)
    return result.type === 'epoch' ? result.epoch : 0
  }

  async #controllerCall(op: ControllerOp, kind: 'read' | 'write', options: CallOptions): Promise<OpResult> {
    this.#assertOpen()
    const controller = this.#router.controller
    if (controller === null) throw new BadRequestError('this cluster has no controller group (its shard map is fixed by the config)')
    const problem = checkControllerOp(op)
    if (problem !== null) throw new BadRequestError(problem)
    return this.#run(kind, options, (seq) => ({
      what: `${op.op}${seq > 0 ? ` (seq ${seq})` : ''}`,
      group: controller,
      message: () => ({ type: 'controller', clientId: this.#session.clientId, seq, ackedSeq: this.#session.wireAckedSeq, op }),
      interpret: (raw) => {
        const r = parseClientResponse(raw)
        if ('invalid' in r) return { kind: 'invalid', reason: r.invalid }
        if (r.type === 'result') {
          if (kind === 'write') this.#session.markEstablished()
          return { kind: 'done', value: r.result }
        }
        if (r.code === 'NOT_LEADER') return notLeaderOutcome(r)
        if (r.code === 'BAD_REQUEST') {
          if (kind === 'write') this.#session.markEstablished()
          return { kind: 'fail', error: new BadRequestError(r.message) }
        }
        return { kind: 'retry', code: r.code === 'TIMEOUT' ? 'TIMEOUT' : 'UNAVAILABLE', message: r.message }
      },
      tracksLeader: true,
    }))
  }

  /**
   * A group's membership (`{ action: 'list' }`, any replica's applied view, the leader first),
   * or one change through its leader, answered once the change's entry is applied: `add` a
   * replica as a learner at `address` ("host:port"), `promote` a learner that caught up to a
   * voter, `remove` a member. `group` may be left out in a cluster of one group. A change the
   * leader refuses for now (another change pending, a learner not caught up) fails with
   * `UnavailableError`; one it can never take (an id admitted before, not a member, the last
   * voter) with `BadRequestError`.
   */
  async member(request: Omit<MemberRequest, 'type'>, options: CallOptions & { group?: string } = {}): Promise<MembersView> {
    this.#assertOpen()
    const group = await this.#groupNamed(options.group)
    const plan: CallPlan<MembersView> = {
      what: `member ${request.action}${request.action === 'list' ? '' : ` ${request.replicaId}`}`,
      group,
      message: () => ({ ...request, type: 'member' }),
      interpret: (raw) => {
        const members = parseMembersResponse(raw)
        if (!('invalid' in members)) return { kind: 'done', value: members }
        const r = parseClientResponse(raw)
        if ('invalid' in r) return { kind: 'invalid', reason: members.invalid }
        if (r.type !== 'error') return { kind: 'invalid', reason: 'a member request answered with a result' }
        if (r.code === 'NOT_LEADER') return notLeaderOutcome(r)
        if (r.code === 'BAD_REQUEST') return { kind: 'fail', error: new BadRequestError(r.message) }
        // Refused for now: the caller decides when to ask again (a retry would only ask at once).
        return { kind: 'fail', error: new UnavailableError(r.message) }
      },
      tracksLeader: true,
    }
    return this.#run('read', options, () => plan)
  }

  /** The group named `id` (the controller's included); without an id, the cluster's only group. */
  async #groupNamed(id: string | undefined): Promise<EndpointGroup> {
    if (id === undefined) {
      if (this.#router.groups.length === 1 && this.#router.controller === null) return this.#router.groups[0]!
      throw new BadRequestError('this cluster has several groups: name one')
    }
    if (this.#router.controller?.id === id) return this.#router.controller
    if (this.#router.needsMap) await this.#ensureMap()
    const group = this.#router.groupById(id)
    if (group === null) throw new BadRequestError(`no group "${id}" in this cluster`)
    return group
  }

  /** A replica's view of its group: `endpoint` ("host:port"), or any replica (the leader first). */
  async status(endpoint?: string, options: CallOptions & { digest?: boolean } = {}): Promise<ReplicaStatus> {
    const only: Endpoint | undefined = endpoint === undefined ? undefined : endpointArgument(endpoint)
    const group = (only === undefined ? null : this.#router.groupWith(only)) ?? this.#router.groups[0]!
    const plan: CallPlan<ReplicaStatus> = {
      what: 'status',
      group,
      message: () => ({ type: 'status', digest: options.digest === true }),
      interpret: (raw, from) => {
        const status = parseReplicaStatus(raw, from)
        return 'invalid' in status ? { kind: 'invalid', reason: status.invalid } : { kind: 'done', value: status }
      },
      tracksLeader: false,
      ...(only === undefined ? {} : { only }),
    }
    this.#assertOpen()
    return this.#run('read', options, () => plan)
  }

  /** Closes every connection; calls in flight and later calls fail with ClosedError. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const scope of this.#scopes) scope.cancel(new ClosedError())
      this.#admission.close()
      await this.#env.pool.close()
    })()
    return this.#closed
  }

  /** Fetches the shard map from the controller when routing needs one (first use, or after WRONG_SHARD). */
  async #ensureMap(refresh = false): Promise<void> {
    if (!refresh && !this.#router.needsMap) return
    const controller = this.#router.controller
    if (controller === null) return
    this.#mapFetch ??= this.#fetchMap(controller).finally(() => {
      this.#mapFetch = null
    })
    await this.#mapFetch
  }

  async #fetchMap(controller: EndpointGroup): Promise<void> {
    const plan: CallPlan<ShardMap> = {
      what: 'shard map',
      group: controller,
      message: () => ({ type: 'controller', clientId: this.#session.clientId, seq: 0, ackedSeq: this.#session.wireAckedSeq, op: { op: 'getMap' } }),
      interpret: (raw) => {
        const r = parseClientResponse(raw)
        if ('invalid' in r) return { kind: 'invalid', reason: r.invalid }
        if (r.type === 'error') return r.code === 'NOT_LEADER' ? notLeaderOutcome(r) : { kind: 'retry', code: 'UNAVAILABLE', message: r.message }
        if (r.result.type !== 'shardMap') return { kind: 'invalid', reason: `getMap answered with a ${r.result.type} result` }
        if (r.result.map === null) return { kind: 'retry', code: 'UNAVAILABLE', message: 'the controller has no shard map yet' }
        return { kind: 'done', value: r.result.map }
      },
      tracksLeader: true,
    }
    const scope = new CallScope({ timeoutMs: this.#env.limits.defaultTimeoutMs, callerSignal: undefined, what: 'read' })
    this.#scopes.add(scope)
    try {
      this.#router.learnMap(await runCall(plan, scope, this.#env))
    } finally {
      this.#scopes.delete(scope)
      scope.dispose()
    }
  }

  /** After WRONG_SHARD: the newest map, then the group that owns `keys` now. */
  #reroute(keys: readonly string[]): () => Promise<EndpointGroup | null> {
    return async () => {
      await this.#ensureMap(true)
      return this.#router.groupForAll(keys)
    }
  }

  async #read(op: Extract<KvOp, { op: 'get' }>, options: GetOptions): Promise<OpResult> {
    this.#assertOpen()
    checkOp(op)
    await this.#ensureMap()
    const plan: CallPlan<OpResult> = {
      what: `get ${JSON.stringify(op.key)}`,
      group: this.#router.groupFor(op.key),
      reroute: this.#reroute([op.key]),
      // Reads carry seq 0 and are not deduplicated; the watermark rides along.
      message: () => ({ type: 'kv', clientId: this.#session.clientId, seq: 0, ackedSeq: this.#session.wireAckedSeq, op }),
      interpret: (raw) => interpretKvReply(op, raw),
      tracksLeader: options.stale !== true,
    }
    return this.#run('read', options, () => plan)
  }

  async #write(makeOp: () => WriteOp, options: CallOptions): Promise<OpResult> {
    this.#assertOpen()
    const op = makeOp()
    checkOp(op)
    await this.#ensureMap()
    const keys = op.op === 'batchPut' ? op.entries.map(([k]) => k) : [op.key]
    const group = this.#router.groupForAll(keys)
    if (group === null) throw new UnavailableError(`${op.op}: its keys span groups`)
    return this.#run('write', options, (seq) => ({
      what: `${op.op} (seq ${seq})`,
      group,
      reroute: this.#reroute(keys),
      // Same clientId, seq and op on every attempt; only the watermark moves.
      message: () => ({ type: 'kv', clientId: this.#session.clientId, seq, ackedSeq: this.#session.wireAckedSeq, op }),
      interpret: (raw) => {
        const meaning = interpretKvReply(op, raw)
        if (meaning.kind === 'done') this.#session.markEstablished()
        return meaning
      },
      tracksLeader: true,
    }))
  }

  #assertOpen(): void {
    if (this.#closed !== null) throw new ClosedError()
  }

  /**
   * One call, validated already: wait for admission (a write gets its seq there), run the
   * retry loop, then settle the write's seq whatever happened (answered, or abandoned at
   * the deadline or on abort) so that the watermark can pass it.
   */
  async #run<T>(kind: 'read' | 'write', options: CallOptions, makePlan: (seq: number) => CallPlan<T>, env: CallEnv = this.#env): Promise<T> {
    this.#assertOpen()
    const timeoutMs = CallScope.checkTimeout(options.timeoutMs ?? this.#env.limits.defaultTimeoutMs)
    const scope = new CallScope({ timeoutMs, callerSignal: options.signal, what: kind })
    this.#scopes.add(scope)
    let admitted = false
    let seq = 0
    try {
      seq = await this.#admission.admit(kind, scope.signal)
      admitted = true
      return await runCall(makePlan(seq), scope, env)
    } finally {
      this.#scopes.delete(scope)
      scope.dispose()
      if (seq > 0) this.#session.settle(seq)
      if (admitted) this.#admission.release()
    }
  }
}

function endpointArgument(text: string): Endpoint {
  try {
    return parseEndpoint(text)
  } catch (err) {
    throw new BadRequestError(err instanceof Error ? err.message : String(err))
  }
}

/** Creates a client. Nothing connects until the first call. */
export function createClient(options: ClientOptions): KvClient {
  return new KvClient(options)
}
