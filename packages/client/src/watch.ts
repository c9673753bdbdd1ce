import { backoffMs, compareRevisions, formatRevision, limits as protocolLimits, parseCursor, parseRevision, ShardRouter, WatchMerge, type StreamAnswer, type WatchEvent, type WatchOp, type WireRevision } from '@kv/protocol'
import type { CallPlan, Interpretation } from './call.js'
import { sleep } from './deadline.js'
import { AbortError, BadRequestError, ClosedError, CompactedError, KvError, ProtocolError } from './errors.js'
import type { ClientInternals } from './internals.js'
import { checkOp, interpretError } from './ops.js'
import { parseClientResponse } from './response.js'
import type { EndpointGroup } from './router.js'

/** What to watch: one key, or every key starting with `prefix`. */
export type WatchTarget = string | { readonly prefix: string }

export interface WatchOptions {
  /**
   * Hand out the events after this revision ("<epoch>.<index>", as events carry). For a prefix
   * watch also a `cursor` of an earlier prefix watch (exact across groups), or a revision, which
   * then stands for the same revision in every group (exact with one group; with several, `"E.0"`
   * means every event from epoch E on). Absent: from now.
   */
  readonly fromRevision?: string
  /** Ends the watch (the iterator finishes; a poll in flight is abandoned). */
  readonly signal?: AbortSignal
  /** How long a replica may hold one poll with nothing new (default 1000 ms). */
  readonly pollWaitMs?: number
  /** Most events one poll brings (default 1000). */
  readonly maxEventsPerPoll?: number
  /**
   * A prefix watch buffers at most this many events per group while it waits for slower groups
   * (the merge rule) or for the consumer; a group that is that far ahead stops polling until
   * they are handed out (default 10,000). Nothing is buffered on the replicas: a consumer too
   * slow for their history gets CompactedError.
   */
  readonly maxBufferedEvents?: number
}

/** One change of a key. `append` carries the appended bytes; `delete` no value. */
export interface KvWatchEvent {
  readonly type: 'put' | 'append' | 'delete'
  readonly key: string
  readonly value?: Uint8Array
  /** "<epoch>.<index>": compare with `compareRevisions`; events of one log entry share it. */
  readonly revision: string
}

const DEFAULT_POLL_WAIT_MS = 1000
const DEFAULT_MAX_EVENTS = 1000
const DEFAULT_MAX_BUFFERED = 10_000

/**
 * A change feed: `for await (const ev of kv.watch(...))` hands out every change in commit order,
 * each once, resuming by itself after leader changes, lost connections and migrations of the
 * keys' arcs (from the last revision handed out). It ends when its signal fires or `close()` is
 * called, and throws CompactedError when the history no longer reaches back to where it is,
 * BadRequestError, or ClosedError when the client closes. Iterate it once.
 */
export class Watch implements AsyncIterable<KvWatchEvent> {
  readonly #controller = new AbortController()
  readonly #events: AsyncGenerator<KvWatchEvent>
  readonly #state: { cursor: string | null }

  /** @internal */
  constructor(ix: ClientInternals, target: WatchTarget, options: WatchOptions) {
    const o = checkWatchOptions(target, options)
    const signal = options.signal
    if (signal !== undefined) {
      if (signal.aborted) this.#controller.abort()
      else signal.addEventListener('abort', () => this.#controller.abort(), { once: true })
    }
    this.#state = { cursor: options.fromRevision ?? null }
    this.#events = typeof target === 'string'
      ? keyEvents(ix, target, o, this.#controller.signal, this.#state)
      : prefixEvents(ix, target.prefix, o, this.#controller.signal, this.#state)
  }

  /**
   * Where a new watch resumes to miss nothing and repeat nothing (its `fromRevision`): the last
   * revision handed out whole (a key watch), or a cursor of every group's (a prefix watch). Null
   * until the watch knows where it is (a watch from now, before every group answered once).
   */
  get cursor(): string | null {
    return this.#state.cursor
  }

  [Symbol.asyncIterator](): AsyncIterator<KvWatchEvent> {
    return this.#events
  }

  /** Ends the watch: the iterator finishes. */
  close(): void {
    this.#controller.abort()
  }
}

interface ResolvedOptions {
  readonly from: WireRevision | null
  readonly cursor: ReturnType<typeof parseCursor>
  readonly pollWaitMs: number
  readonly maxEvents: number
  readonly maxBuffered: number
}

function checkWatchOptions(target: WatchTarget, options: WatchOptions): ResolvedOptions {
  const isKey = typeof target === 'string'
  if (isKey) checkOp({ op: 'watch', key: target, fromRevision: null, maxEvents: 1, waitMs: 0 })
  else if (typeof target !== 'object' || target === null || typeof target.prefix !== 'string') throw new BadRequestError('watch: give a key or { prefix }')
  else checkOp({ op: 'watch', prefix: target.prefix, fromRevision: null, maxEvents: 1, waitMs: 0 })
  const pollWaitMs = options.pollWaitMs ?? DEFAULT_POLL_WAIT_MS
  const maxEvents = options.maxEventsPerPoll ?? DEFAULT_MAX_EVENTS
  const maxBuffered = options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED
  const int = (n: number, min: number, max: number) => Number.isSafeInteger(n) && n >= min && n <= max
  if (!int(pollWaitMs, 0, protocolLimits.maxWatchWaitMs)) throw new BadRequestError(`watch: pollWaitMs must be an integer from 0 to ${protocolLimits.maxWatchWaitMs}`)
  if (!int(maxEvents, 1, protocolLimits.maxWatchEvents)) throw new BadRequestError(`watch: maxEventsPerPoll must be an integer from 1 to ${protocolLimits.maxWatchEvents}`)
  if (!int(maxBuffered, 1, 10_000_000)) throw new BadRequestError('watch: maxBufferedEvents must be a positive integer')
  let from: WireRevision | null = null
  let cursor: ReturnType<typeof parseCursor> = null
  if (options.fromRevision !== undefined) {
    if (typeof options.fromRevision !== 'string') throw new BadRequestError('watch: fromRevision must be a string')
    from = parseRevision(options.fromRevision)
    if (from === null && !isKey) cursor = parseCursor(options.fromRevision)
    if (from === null && cursor === null) {
      throw new BadRequestError(`watch: fromRevision ${JSON.stringify(options.fromRevision)} is not a revision ("<epoch>.<index>")${isKey ? '' : ' or a cursor'}`)
    }
  }
  return { from, cursor, pollWaitMs, maxEvents, maxBuffered }
}

function toUser(e: WatchEvent): KvWatchEvent {
  const revision = formatRevision(e.revision)
  return e.value === undefined ? { type: e.type, key: e.key, revision } : { type: e.type, key: e.key, value: e.value, revision }
}

/** Errors that end a watch; any other (a timeout, no replica reachable, a moving shard) is waited out. */
function isFatal(e: unknown): boolean {
  return e instanceof CompactedError || e instanceof BadRequestError || e instanceof ClosedError || e instanceof ProtocolError || !(e instanceof KvError)
}

function interpretPoll(raw: unknown): Interpretation<StreamAnswer & { readonly more: boolean }> {
  const r = parseClientResponse(raw)
  if ('invalid' in r) return { kind: 'invalid', reason: r.invalid }
  if (r.type === 'result') {
    if (r.result.type !== 'events') return { kind: 'fail', error: new ProtocolError(`watch answered with a ${r.result.type} result`) }
    return { kind: 'done', value: r.result }
  }
  return interpretError(r)
}

/** One long poll of `group` (retried over its replicas like any read). */
function poll(
  ix: ClientInternals,
  group: EndpointGroup,
  op: WatchOp,
  signal: AbortSignal,
  reroute?: () => Promise<EndpointGroup | null>,
): Promise<StreamAnswer & { readonly more: boolean }> {
  const what = op.key !== undefined ? `watch ${JSON.stringify(op.key)}` : `watch prefix ${JSON.stringify(op.prefix)} in ${group.id}`
  const plan: CallPlan<StreamAnswer & { readonly more: boolean }> = {
    what,
    group,
    message: () => ({ type: 'kv', clientId: ix.clientId, seq: 0, ackedSeq: ix.wireAckedSeq(), op }),
    interpret: interpretPoll,
    tracksLeader: true,
    ...(reroute === undefined ? {} : { reroute }),
  }
  return ix.read(plan, { timeoutMs: op.waitMs + ix.limits.defaultTimeoutMs, signal, holdMs: op.waitMs })
}

/** Waits out a passing failure (backoff by the number of failures in a row); false when the watch ended. */
async function pause(ix: ClientInternals, failures: number, signal: AbortSignal, e: unknown): Promise<void> {
  ix.logger.debug({ err: e instanceof Error ? e.message : String(e), failures }, 'watch poll failed; polling again')
  await sleep(backoffMs(failures, { minMs: ix.limits.backoffMinMs, maxMs: Math.max(ix.limits.backoffMaxMs, 1000) }, ix.random), signal)
}

/**
 * A key's watch: long polls of the key's group, from the last revision received. The group is
 * the one the map names when the watch starts, and stays so until it answers WRONG_SHARD (the key
 * moved and it handed out every event it had of it): then the next map in which another group
 * owns the key names the next (not the newest map: a key that moved twice since has events at
 * the group in between, which the watch must not skip).
 */
async function* keyEvents(ix: ClientInternals, key: string, o: ResolvedOptions, signal: AbortSignal, state: { cursor: string | null }): AsyncGenerator<KvWatchEvent> {
  let position = o.from
  let group: EndpointGroup | null = null
  /** The epoch of the map that named `group`. */
  let routedAt = 0
  let failures = 0
  const reroute = async () => {
    await ix.ensureMap(true)
    const newest = ix.router.epoch
    // Bounded by the epochs since the map that named the group.
    for (let epoch = routedAt + 1; epoch <= newest && group !== null; epoch++) {
      const map = epoch === newest ? ix.router.map : await ix.mapAt(epoch)
      if (map === null) continue
      const owner = new ShardRouter(map).groupOf(key)
      routedAt = epoch
      if (owner.id !== group.id) {
        group = ix.router.groupOfSpec(owner)
        return group
      }
    }
    // The group is the owner under the newest map (it is still waiting for the key's data): ask it again.
    group ??= ix.router.groupFor(key)
    return group
  }
  // Bounded by the signal: a watch runs until it is ended.
  while (!signal.aborted) {
    let answer: StreamAnswer & { readonly more: boolean }
    try {
      await ix.ensureMap(false)
      if (group === null) {
        group = ix.router.groupFor(key)
        routedAt = ix.router.epoch
      }
      const op: WatchOp = { op: 'watch', key, fromRevision: position, maxEvents: o.maxEvents, waitMs: position === null ? 0 : o.pollWaitMs }
      answer = await poll(ix, group, op, signal, reroute)
      failures = 0
    } catch (e) {
      if (signal.aborted || e instanceof AbortError) return
      if (isFatal(e)) throw e
      await pause(ix, failures++, signal, e)
      continue
    }
    for (let i = 0; i < answer.events.length; i++) {
      const e = answer.events[i]!
      const next = answer.events[i + 1]
      // The cursor moves past a revision only once every event of it is handed out.
      if (next === undefined) state.cursor = formatRevision(answer.progress)
      else if (compareRevisions(next.revision, e.revision) !== 0) state.cursor = formatRevision(e.revision)
      yield toUser(e)
      if (signal.aborted) return
    }
    position = answer.progress
    state.cursor = formatRevision(position)
  }
}

/**
 * A prefix's watch: one long-poll stream per group of the map (the keys are spread over all of
 * them), merged by `WatchMerge`'s rule so that each key's events come out in order, once, across
 * migrations. Each group stream stops polling while it has `maxBuffered` events waiting.
 */
async function* prefixEvents(ix: ClientInternals, prefix: string, o: ResolvedOptions, parent: AbortSignal, state: { cursor: string | null }): AsyncGenerator<KvWatchEvent> {
  const inner = new AbortController()
  const signal = inner.signal
  const onParent = () => inner.abort()
  parent.addEventListener('abort', onParent, { once: true })
  let fatal: unknown = null
  let waiters: Array<() => void> = []
  const notify = () => {
    const w = waiters
    waiters = []
    for (const f of w) f()
  }
  const changed = () => new Promise<void>((resolve) => {
    if (signal.aborted) return resolve()
    waiters.push(resolve)
  })
  signal.addEventListener('abort', notify, { once: true })

  try {
    await ix.ensureMap(false)
    const groups = new Map<string, EndpointGroup>()
    const groupOf = (id: string): EndpointGroup | null => {
      let g = groups.get(id) ?? null
      if (g === null) {
        g = ix.router.groupById(id)
        if (g !== null) groups.set(id, g)
      }
      return g
    }
    const merge = o.cursor !== null
      ? new WatchMerge(o.cursor.mapEpoch, [...o.cursor.groups])
      : new WatchMerge(ix.router.epoch, ix.router.shardGroupIds.map((id) => [id, o.from] as const))
    for (const id of ix.router.shardGroupIds) groupOf(id)
    merge.onMap(ix.router.epoch, ix.router.shardGroupIds)

    let mapFetch: Promise<void> | null = null
    const refreshMap = () => {
      mapFetch ??= (async () => {
        try {
          await ix.ensureMap(true)
          const map = ix.router.map
          if (map !== null && map.epoch > merge.mapEpoch) {
            for (const g of map.groups) groupOf(g.id)
            merge.onMap(map.epoch, map.groups.map((g) => g.id))
            startStreams()
          }
        } finally {
          mapFetch = null
        }
      })()
      return mapFetch
    }

    const running = new Set<string>()
    const runStream = async (id: string) => {
      const group = groupOf(id)
      if (group === null) {
        fatal = new ProtocolError(`watch: group ${id} is in no shard map this client knows`)
        return notify()
      }
      let failures = 0
      // Bounded by the signal and the stream's end.
      while (!signal.aborted && fatal === null && merge.isActive(id)) {
        if (merge.buffered(id) >= o.maxBuffered) {
          await changed()
          continue
        }
        const from = merge.active().find((a) => a.id === id)?.from ?? null
        try {
          const op: WatchOp = { op: 'watch', prefix, fromRevision: from, maxEvents: o.maxEvents, waitMs: from === null ? 0 : o.pollWaitMs }
          const answer = await poll(ix, group, op, signal)
          failures = 0
          merge.onAnswer(id, answer)
          if (merge.needsMap()) await refreshMap()
        } catch (e) {
          if (signal.aborted || e instanceof AbortError) break
          if (isFatal(e)) {
            fatal = e
            break
          }
          await pause(ix, failures++, signal, e)
        }
        notify()
      }
      running.delete(id)
      notify()
    }
    const startStreams = () => {
      for (const { id } of merge.active()) {
        if (running.has(id)) continue
        running.add(id)
        void runStream(id)
      }
    }
    startStreams()

    // Bounded by the signal: a watch runs until it is ended.
    while (!signal.aborted) {
      for (let e = merge.next(); e !== null; e = merge.next()) {
        state.cursor = merge.positioned ? merge.cursor() : null
        yield toUser(e)
        if (signal.aborted) return
        notify() // a stream paused on a full buffer may poll again
      }
      if (merge.positioned) state.cursor = merge.cursor()
      if (fatal !== null) throw fatal instanceof Error ? fatal : new ProtocolError('watch: a stream failed')
      await changed()
    }
  } finally {
    parent.removeEventListener('abort', onParent)
    inner.abort()
  }
}
