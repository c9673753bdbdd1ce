import { Packr } from 'msgpackr'
import type { ClientResponse, KvOp, OpResult, WriteOp } from '@kv/protocol'
import { unreachable } from '@kv/consensus'
import { LogRecordError, type LogRecord } from '../log-record.js'
import { SessionTable, type EncodedSession, type SessionLimits } from '../session.js'
import { assertNextIndex, type MirroredStateMachine, type OpClass, type StateMachine, type TableChanges } from '../state-machine.js'

const packr = new Packr({ useRecords: false, moreTypes: false })
const encoder = new TextEncoder()
const decoder = new TextDecoder()

const OK: OpResult = { type: 'ok' }

interface SnapshotImage {
  readonly appliedIndex: number
  readonly appliedTerm: number
  readonly data: ReadonlyArray<readonly [string, Uint8Array]>
  readonly sessions: ReadonlyArray<readonly [string, ...EncodedSession]>
}

/** The KV machine's tables in a state store (the layout of data folders written since the first release). */
export const kvTables = { data: 'kv', sessions: 'sessions', meta: 'meta' } as const
const APPLIED_TERM = 'appliedTerm'

export interface KvMachineOptions extends SessionLimits {
  /** Record what each apply changed, for a durable mirror (`drainChanges`). */
  readonly trackChanges?: boolean
}

/**
 * The replicated key-value state machine with exactly-once client sessions. Deterministic:
 * the same entries applied in the same order give the same state on every replica.
 */
export class KvStateMachine implements StateMachine<KvOp>, MirroredStateMachine {
  readonly commandKind = 'kv'
  readonly tableNames = [kvTables.data, kvTables.sessions, kvTables.meta]
  private data = new Map<string, Uint8Array>()
  private readonly sessions: SessionTable
  private dirtyKeys = new Set<string>()
  private restored = false
  private readonly trackChanges: boolean
  appliedIndex = 0
  appliedTerm = 0

  constructor(options: KvMachineOptions) {
    this.trackChanges = options.trackChanges === true
    this.sessions = new SessionTable(options, this.trackChanges)
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
    if (op.op !== 'get') return 'write'
    return op.stale === true ? 'stale-read' : 'read'
  }

  read(op: KvOp): ClientResponse {
    if (op.op !== 'get') return { type: 'error', code: 'BAD_REQUEST', message: `${op.op} is not a read` }
    return { type: 'result', result: { type: 'value', value: this.get(op.key) } }
  }

  applyNoop(index: number, term: number): void {
    this.advanceTo(index, term)
  }

  apply(index: number, term: number, record: LogRecord): ClientResponse[] {
    this.advanceTo(index, term)
    switch (record.kind) {
      case 'kv': {
        this.sessions.expire(record.timeMs)
        return record.commands.map((c) => this.sessions.applyOnce(c, record.timeMs, () => this.applyOp(c.op)))
      }
      case 'migration':
        // Shard migration steps come with the sharding of the KV machine.
        throw new LogRecordError(`migration records are not applied by this machine yet (index ${index})`)
      case 'controller':
      case 'controller-init':
        throw new LogRecordError(`a ${record.kind} record in a KV group's log at index ${index}`)
      default:
        return unreachable(record, 'kv machine record')
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
        return OK
      case 'append': {
        const old = this.data.get(op.key)
        this.set(op.key, old === undefined ? op.value : concat(old, op.value))
        return OK
      }
      case 'delete': {
        const existed = this.data.delete(op.key)
        if (existed) this.markKey(op.key)
        return { type: 'deleted', existed }
      }
      case 'batchPut':
        for (const [k, v] of op.entries) this.set(k, v)
        return OK
      default:
        return unreachable(op, 'write op')
    }
  }

  private set(key: string, value: Uint8Array): void {
    this.data.set(key, toBytes(value))
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
        return
    }
  }

  loadRow(table: string, key: string, value: Uint8Array): void {
    if (table === kvTables.data) this.data.set(key, toBytes(value))
    else if (table === kvTables.sessions) this.sessions.loadBytes(key, value)
    else if (table === kvTables.meta && key === APPLIED_TERM) this.appliedTerm = Number(decoder.decode(value))
  }

  loaded(appliedIndex: number): void {
    this.appliedIndex = appliedIndex
  }

  // ---- snapshots ----

  snapshot(): Uint8Array {
    const image: SnapshotImage = {
      appliedIndex: this.appliedIndex,
      appliedTerm: this.appliedTerm,
      data: [...this.data],
      sessions: this.sessions.encodeAll(),
    }
    return packr.pack(image)
  }

  restore(bytes: Uint8Array): void {
    const image = packr.unpack(bytes) as SnapshotImage
    this.data = new Map(image.data.map(([k, v]) => [k, toBytes(v)]))
    this.sessions.replaceAll(image.sessions)
    this.appliedIndex = image.appliedIndex
    this.appliedTerm = image.appliedTerm
    if (this.trackChanges) {
      this.restored = true
      this.dirtyKeys.clear()
    }
  }

  /** A digest of the user-visible data (keys sorted), to compare replicas. */
  digest(): string {
    let h1 = 0x811c9dc5, h2 = 0x01000193
    const mix = (b: number) => {
      h1 = Math.imul(h1 ^ b, 0x01000193) >>> 0
      h2 = Math.imul(h2 ^ b, 0x5bd1e995) >>> 0
    }
    for (const key of [...this.data.keys()].sort()) {
      for (let i = 0; i < key.length; i++) mix(key.charCodeAt(i) & 0xff)
      mix(0)
      for (const b of this.data.get(key)!) mix(b)
      mix(1)
    }
    return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0')
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
