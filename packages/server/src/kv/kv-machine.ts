import { Packr } from 'msgpackr'
import { createHash } from 'node:crypto'
import type { ClientResponse, KvOp, OpResult, WatchEvent, WireRevision, WriteOp } from '@kv/protocol'
import { unreachable } from '@kv/consensus'
import type { GroupSpec, ShardMap } from '@kv/protocol'
import type { GroupMessage, MachineContext } from '../group-message.js'
import { defaultReplicaLimits } from '../limits.js'
import { LogRecordError, type LogRecord, type MigrationStep } from '../log-record.js'
import { SessionTable, type EncodedSession, type SessionLimits } from '../session.js'
import { defaultMigrationLimits, MigrationDriver, type MigrationLimits } from './migration-driver.js'
import { answerScan, answerWatch, currentRevision, type ReadableKv } from './reads.js'
import { ShardState, type MigrationEvent, type OutgoingMove, type ShardImage } from './shards.js'
import { SortedKeys } from './sorted-keys.js'
import { WatchHistory, type HistoryImage, type HistoryLimits } from './watch-history.js'
import { assertNextIndex, type MirroredStateMachine, type OpClass, type ReadHold, type StateMachine, type TableChanges } from '../state-machine.js'

const packr = new Packr({ useRecords: false, moreTypes: false })
const encoder = new TextEncoder()
const decoder = new TextDecoder()

const OK: OpResult = { type: 'ok' }

interface SnapshotImage {
  readonly appliedIndex: number
  readonly appliedTerm: number
  readonly data: ReadonlyArray<readonly [string, Uint8Array]>
  readonly sessions: ReadonlyArray<readonly [string, ...EncodedSession]>
  /** Absent in snapshots of an unsharded machine (and of releases before sharding). */
  readonly shards?: ShardImage
  /** Absent in snapshots of releases before watches. */
  readonly history?: HistoryImage
}

/**
 * The KV machine's tables in a state store (the layout of data folders written since the first
 * release; `history` since watches: a folder without it opens with an empty history).
 */
export const kvTables = { data: 'kv', sessions: 'sessions', meta: 'meta', history: 'history' } as const
const APPLIED_TERM = 'appliedTerm'
const SHARDS = 'shards'

/** How a KV group learns which keys it serves. */
export type Sharding =
  /** The controller group owns the shard map: start owning nothing, learn maps from it in order. */
  | { readonly kind: 'controller'; readonly groupId: string; readonly controller: GroupSpec }
  /** A map fixed from the start (a cluster spec without a controller). */
  | { readonly kind: 'fixed'; readonly groupId: string; readonly map: ShardMap }

export interface KvMachineOptions extends SessionLimits, Partial<HistoryLimits> {
  /** A scan or watch answer stops past this many bytes (default: `defaultReplicaLimits`). */
  readonly maxReadAnswerBytes?: number
  /** Record what each apply changed, for a durable mirror (`drainChanges`). */
  readonly trackChanges?: boolean
  /** Absent: the machine serves every key (one group on its own). */
  readonly sharding?: Sharding
  readonly migrationLimits?: Partial<MigrationLimits>
  /** One call per applied migration step (the node logs each as one structured line). */
  readonly onMigrationStep?: (event: MigrationEvent) => void
}

/**
 * The replicated key-value state machine with exactly-once client sessions. Deterministic:
 * the same entries applied in the same order give the same state on every replica.
 */
export class KvStateMachine implements StateMachine<KvOp>, MirroredStateMachine, ReadableKv {
  readonly commandKind = 'kv'
  readonly tableNames = [kvTables.data, kvTables.sessions, kvTables.meta, kvTables.history]
  private data = new Map<string, Uint8Array>()
  /** The keys of `data` in key order (range reads). */
  readonly sortedKeys = new SortedKeys()
  /** The last digest and the applied index it is of (restore and start-up loading clear it). */
  private digestAt: { readonly index: number; readonly value: string } | null = null
  /** Recent changes, for watches: replicated state like the data. */
  readonly history: WatchHistory
  /** The events of the entry being applied. */
  private entryEvents: Array<{ type: WatchEvent['type']; key: string; value?: Uint8Array }> = []
  private readonly maxReadAnswerBytes: number
  private readonly sessions: SessionTable
  private dirtyKeys = new Set<string>()
  private restored = false
  private shardsDirty = false
  private readonly trackChanges: boolean
  /** Null: unsharded, every key served. */
  readonly shards: ShardState | null
  private readonly driver: MigrationDriver | null
  private readonly onMigrationStep: ((event: MigrationEvent) => void) | undefined
  /** Sorted keys of each outgoing move, computed once per move (its data is frozen). */
  private readonly movingKeys = new Map<string, readonly string[]>()
  appliedIndex = 0
  appliedTerm = 0

  constructor(options: KvMachineOptions) {
    this.trackChanges = options.trackChanges === true
    this.sessions = new SessionTable(options, this.trackChanges)
    this.history = new WatchHistory(
      { maxHistoryEvents: options.maxHistoryEvents ?? defaultReplicaLimits.maxHistoryEvents, maxHistoryBytes: options.maxHistoryBytes ?? defaultReplicaLimits.maxHistoryBytes },
      this.trackChanges,
    )
    this.maxReadAnswerBytes = options.maxReadAnswerBytes ?? defaultReplicaLimits.maxReadAnswerBytes
    this.onMigrationStep = options.onMigrationStep
    const sharding = options.sharding
    if (sharding === undefined) {
      this.shards = null
      this.driver = null
    } else {
      this.shards = sharding.kind === 'fixed' ? ShardState.fixed(sharding.groupId, sharding.map) : new ShardState(sharding.groupId)
      const limits = { ...defaultMigrationLimits, ...options.migrationLimits }
      const data = {
        shards: this.shards,
        keysOf: (move: OutgoingMove) => this.keysOf(move),
        value: (key: string) => this.get(key),
        sessions: () => this.sessions.encodeAll(),
        floorOf: (key: string) => this.history.floorOf(key),
        absentFloors: (move: OutgoingMove, from: number, to: number) =>
          this.history.absentFloors(move.arcs, (k) => this.data.has(k), from, to),
      }
      this.driver = new MigrationDriver(data, sharding.kind === 'controller' ? sharding.controller : null, limits)
    }
  }

  /** Is `key` served here now? (Unsharded: always.) */
  serves(key: string): boolean {
    return this.shards === null || this.shards.serves(key)
  }

  /** WRONG_SHARD for `key` (null: for a range read at another epoch, or while gained arcs wait for data). */
  wrongShard(key: string | null): ClientResponse {
    const epoch = this.shards?.epoch ?? 0
    const what = key === null ? 'a range read: not settled at the asked epoch' : `does not serve ${JSON.stringify(key)}`
    return { type: 'error', code: 'WRONG_SHARD', message: `group ${this.shards?.groupId ?? '?'} ${what} at epoch ${epoch}`, epoch }
  }

  /** The first key of `op` this group does not serve, or null. */
  private unservedKey(op: KvOp): string | null {
    if (this.shards === null) return null
    if (op.op === 'batchPut') {
      for (const [k] of op.entries) if (!this.shards.serves(k)) return k
      return null
    }
    if (op.op === 'scan' || op.op === 'watch') return null
    return this.shards.serves(op.key) ? null : op.key
  }

  get(key: string): Uint8Array | null {
    return this.data.get(key) ?? null
  }

  get size(): number {
    return this.data.size
  }

  get sessionCount(): number {
    return this.sessions.size
  }

  classify(op: KvOp): OpClass {
    if (op.op === 'scan' || op.op === 'watch') return 'read'
    if (op.op !== 'get') return 'write'
    return op.stale === true ? 'stale-read' : 'read'
  }

  read(op: KvOp, final = false): ClientResponse | ReadHold<KvOp> {
    switch (op.op) {
      case 'get': {
        if (!this.serves(op.key)) return this.wrongShard(op.key)
        const value = this.get(op.key)
        return { type: 'result', result: op.withRevision === true ? { type: 'value', value, revision: currentRevision(this) } : { type: 'value', value } }
      }
      case 'scan':
        return answerScan(this, op, this.maxReadAnswerBytes)
      case 'watch':
        return answerWatch(this, op, final, this.maxReadAnswerBytes)
      case 'put':
      case 'append':
      case 'delete':
      case 'batchPut':
        return { type: 'error', code: 'BAD_REQUEST', message: `${op.op} is not a read` }
      default:
        return unreachable(op, 'kv read')
    }
  }

  applyNoop(index: number, term: number): void {
    this.advanceTo(index, term)
  }

  apply(index: number, term: number, record: LogRecord): ClientResponse[] {
    this.advanceTo(index, term)
    switch (record.kind) {
      case 'kv': {
        this.sessions.expire(record.timeMs)
        const answers = record.commands.map((c) => {
          // Ownership is decided in log order: a write the group no longer serves is refused
          // untouched (not in the session), so its retry at the right group applies it.
          const unserved = this.unservedKey(c.op)
          if (unserved !== null) return this.wrongShard(unserved)
          return this.sessions.applyOnce(c, record.timeMs, () => this.applyOp(c.op))
        })
        if (this.entryEvents.length > 0) {
          this.history.append(this.shards?.epoch ?? 0, index, this.entryEvents)
          this.entryEvents = []
        }
        return answers
      }
      case 'migration': {
        if (this.shards === null) throw new LogRecordError(`a migration record in an unsharded group's log at index ${index}`)
        const step = record.step
        const event = this.shards.apply(step, {
          put: (k, v) => this.set(k, v),
          deleteIn: (arcs) => this.deleteIn(arcs),
          mergeSessions: (all) => this.sessions.merge(all),
        })
        if (event !== null) {
          this.shardsDirty = true
          this.movingKeys.clear()
          this.recordMove(step, index)
          this.onMigrationStep?.(event)
        }
        return []
      }
      case 'controller':
      case 'controller-init':
        throw new LogRecordError(`a ${record.kind} record in a KV group's log at index ${index}`)
      default:
        return unreachable(record, 'kv machine record')
    }
  }

  /** What a migration step means for watches: the arcs gained, and what the loser said of their keys' past. */
  private recordMove(step: MigrationStep, index: number): void {
    if (step.type === 'config') {
      const at: WireRevision = [step.map.epoch, index]
      this.history.addGain(step.map.epoch, at, this.shards!.incoming.flatMap((m) => m.arcs))
    } else if (step.type === 'install') {
      this.history.addFloors(step.epoch, index, step.floors, step.bucketFloors)
    }
  }

  private advanceTo(index: number, term: number): void {
    assertNextIndex(this.appliedIndex, index)
    this.appliedIndex = index
    this.appliedTerm = term
  }

  private applyOp(op: WriteOp): OpResult {
    switch (op.op) {
      case 'put':
        this.set(op.key, op.value)
        this.entryEvents.push({ type: 'put', key: op.key, value: op.value })
        return OK
      case 'append': {
        const old = this.data.get(op.key)
        this.set(op.key, old === undefined ? op.value : concat(old, op.value))
        this.entryEvents.push({ type: 'append', key: op.key, value: op.value })
        return OK
      }
      case 'delete': {
        const existed = this.data.delete(op.key)
        if (existed) {
          this.sortedKeys.delete(op.key)
          this.markKey(op.key)
          this.entryEvents.push({ type: 'delete', key: op.key })
        }
        return { type: 'deleted', existed }
      }
      case 'batchPut':
        for (const [k, v] of op.entries) {
          this.set(k, v)
          this.entryEvents.push({ type: 'put', key: k, value: v })
        }
        return OK
      default:
        return unreachable(op, 'write op')
    }
  }

  private deleteIn(arcs: Parameters<typeof ShardState.inArcs>[0]): number {
    let n = 0
    for (const key of [...this.data.keys()]) {
      if (!ShardState.inArcs(arcs, key)) continue
      this.data.delete(key)
      this.sortedKeys.delete(key)
      this.markKey(key)
      n++
    }
    return n
  }

  private keysOf(move: OutgoingMove): readonly string[] {
    const id = `${this.shards?.epoch ?? 0}:${move.to}`
    let keys = this.movingKeys.get(id)
    if (keys === undefined) {
      keys = [...this.data.keys()].filter((k) => ShardState.inArcs(move.arcs, k)).sort()
      this.movingKeys.set(id, keys)
    }
    return keys
  }

  statusInfo(): { epoch?: number; keys: number; migrations?: string[] } {
    const shards = this.shards
    if (shards === null) return { keys: this.data.size }
    const migrations = [
      ...shards.incoming.map((m) => `${m.from}→${shards.groupId} ${m.state}`),
      ...shards.outgoing.map((m) => `${shards.groupId}→${m.to} ${m.state}`),
    ]
    return { epoch: shards.epoch, keys: this.data.size, migrations }
  }

  onGroupMessage(msg: GroupMessage, ctx: MachineContext): void {
    this.driver?.onMessage(msg, ctx)
  }

  tick(ctx: MachineContext): void {
    this.driver?.tick(ctx)
  }

  private set(key: string, value: Uint8Array): void {
    // No copy or re-wrap here: this is every write's path (values may be msgpackr's Buffers).
    if (!this.data.has(key)) this.sortedKeys.add(key)
    this.data.set(key, value)
    this.markKey(key)
  }

  private markKey(key: string): void {
    if (this.trackChanges) this.dirtyKeys.add(key)
  }

  // ---- durable mirror (MirroredStateMachine) ----

  drainChanges(): TableChanges {
    const rows: Array<{ table: string; key: string; value: Uint8Array | null }> = []
    for (const key of this.dirtyKeys) rows.push({ table: kvTables.data, key, value: this.get(key) })
    for (const id of this.sessions.drain()) rows.push({ table: kvTables.sessions, key: id, value: this.sessions.encodeBytes(id) })
    rows.push({ table: kvTables.meta, key: APPLIED_TERM, value: encoder.encode(String(this.appliedTerm)) })
    if (this.shardsDirty && this.shards !== null) rows.push({ table: kvTables.meta, key: SHARDS, value: packr.pack(this.shards.image()) })
    for (const [key, value] of this.history.drain()) rows.push({ table: kvTables.history, key, value })
    this.shardsDirty = false
    const changes = { restored: this.restored, rows }
    this.dirtyKeys = new Set()
    this.restored = false
    return changes
  }

  *tableRows(table: string): IterableIterator<readonly [string, Uint8Array]> {
    switch (table) {
      case kvTables.data:
        yield* this.data
        return
      case kvTables.sessions:
        for (const id of this.sessions.ids()) yield [id, this.sessions.encodeBytes(id)!]
        return
      case kvTables.meta:
        yield [APPLIED_TERM, encoder.encode(String(this.appliedTerm))]
        if (this.shards !== null) yield [SHARDS, packr.pack(this.shards.image())]
        return
      case kvTables.history:
        yield* this.history.rows()
        return
    }
  }

  loadRow(table: string, key: string, value: Uint8Array): void {
    this.digestAt = null
    if (table === kvTables.data) {
      this.data.set(key, value)
      this.sortedKeys.add(key)
    } else if (table === kvTables.history) this.history.loadRow(key, value)
    else if (table === kvTables.sessions) this.sessions.loadBytes(key, value)
    else if (table === kvTables.meta && key === APPLIED_TERM) this.appliedTerm = Number(decoder.decode(value))
    else if (table === kvTables.meta && key === SHARDS) this.shards?.load(packr.unpack(value) as ShardImage)
  }

  loaded(appliedIndex: number): void {
    this.appliedIndex = appliedIndex
    // A folder of a release before watches has no history: it starts here.
    this.history.loaded(currentRevision(this))
  }

  // ---- snapshots ----

  snapshot(): Uint8Array {
    const image: SnapshotImage = {
      appliedIndex: this.appliedIndex,
      appliedTerm: this.appliedTerm,
      data: [...this.data],
      sessions: this.sessions.encodeAll(),
      ...(this.shards === null ? {} : { shards: this.shards.image() }),
      history: this.history.image(),
    }
    return packr.pack(image)
  }

  restore(bytes: Uint8Array): void {
    this.digestAt = null
    const image = packr.unpack(bytes) as SnapshotImage
    this.data = new Map(image.data.map(([k, v]) => [k, toBytes(v)]))
    this.sortedKeys.clear()
    for (const k of [...this.data.keys()].sort()) this.sortedKeys.add(k)
    this.sessions.replaceAll(image.sessions)
    this.appliedIndex = image.appliedIndex
    this.appliedTerm = image.appliedTerm
    if (this.shards !== null && image.shards !== undefined) this.shards.load(image.shards)
    this.history.restore(image.history, currentRevision(this))
    this.movingKeys.clear()
    if (this.trackChanges) {
      this.restored = true
      this.dirtyKeys.clear()
    }
  }

  /** A digest of the user-visible data (keys sorted), to compare replicas. */
  digest(): string {
    // Status calls ask for it again and again (a test waiting for replicas to agree polls every
    // few hundred ms): one pass over the state per applied index. A JavaScript byte loop over a
    // 20 MiB state took long enough under load to starve the replica's event loop; SHA-256 from
    // node:crypto is native, deterministic and does no I/O.
    if (this.digestAt?.index === this.appliedIndex) return this.digestAt.value
    const hash = createHash('sha256')
    for (const key of this.sortedKeys.ascending('', null)) {
      const value = this.data.get(key)!
      const k = encoder.encode(key)
      hash.update(`${k.length}:`).update(k).update(`${value.length}:`).update(value)
    }
    const value = hash.digest('hex').slice(0, 16)
    this.digestAt = { index: this.appliedIndex, value }
    return value
  }

  /** Every key and value, for tests and snapshots of small states. */
  entries(): IterableIterator<[string, Uint8Array]> {
    return this.data.entries()
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

/** msgpackr may hand back Buffers; keep one type inside the state machine. */
function toBytes(v: Uint8Array): Uint8Array {
  return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.length)
}
