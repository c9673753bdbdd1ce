import { Packr } from 'msgpackr'
import type { ClientResponse, OpResult, WriteOp } from '@kv/protocol'
import { assert, unreachable } from '@kv/consensus'
import type { Command, CommandBatch } from './command.js'
import { acknowledge, lookup, newSession, remember, type Session } from './session.js'

const packr = new Packr({ useRecords: false, moreTypes: false })

const OK: OpResult = { type: 'ok' }

/** Keys and sessions touched since the last `drainChanges()`: what a durable mirror must rewrite. */
export interface StateChanges {
  readonly keys: ReadonlySet<string>
  readonly sessions: ReadonlySet<string>
  /** The whole state was replaced from a snapshot: a mirror must replace everything. */
  readonly restored: boolean
}

interface SnapshotImage {
  readonly appliedIndex: number
  readonly appliedTerm: number
  readonly data: ReadonlyArray<readonly [string, Uint8Array]>
  readonly sessions: ReadonlyArray<readonly [string, number, number, ReadonlyArray<readonly [number, OpResult]>]>
}

/**
 * The replicated key-value state machine with exactly-once client sessions. Deterministic:
 * the same entries applied in the same order give the same state on every replica.
 */
export class KvStateMachine {
  private data = new Map<string, Uint8Array>()
  private sessions = new Map<string, Session>()
  private dirtyKeys = new Set<string>()
  private dirtySessions = new Set<string>()
  private restored = false
  appliedIndex = 0
  appliedTerm = 0

  constructor(
    private readonly options: { sessionTtlMs: number; maxResultsPerSession: number; trackChanges?: boolean },
  ) {}

  get(key: string): Uint8Array | null {
    return this.data.get(key) ?? null
  }

  get size(): number {
    return this.data.size
  }

  get sessionCount(): number {
    return this.sessions.size
  }

  /** Marks an entry applied that carries no commands (a no-op). */
  applyNoop(index: number, term: number): void {
    this.advanceTo(index, term)
  }

  /** Applies one log entry's batch; returns one answer per command, in order. */
  applyBatch(index: number, term: number, batch: CommandBatch): ClientResponse[] {
    this.advanceTo(index, term)
    this.expireSessions(batch.timeMs)
    return batch.commands.map((c) => this.applyCommand(c, batch.timeMs))
  }

  private advanceTo(index: number, term: number): void {
    assert(index === this.appliedIndex + 1, () => `applied ${index} after ${this.appliedIndex}: the log must apply gap-free`)
    this.appliedIndex = index
    this.appliedTerm = term
  }

  private applyCommand(c: Command, timeMs: number): ClientResponse {
    let session = this.sessions.get(c.clientId)
    if (session === undefined) {
      // The client has acknowledged answers we no longer hold: its session expired, and a
      // retried write could have been applied already. Refuse rather than risk a double apply.
      if (c.ackedSeq > 0) {
        return { type: 'error', code: 'SESSION_EXPIRED', message: `session ${c.clientId} expired; start a new client` }
      }
      session = newSession(timeMs)
      this.sessions.set(c.clientId, session)
    }
    session.lastActiveMs = timeMs
    acknowledge(session, c.ackedSeq)
    this.markSession(c.clientId)
    const found = lookup(session, c.seq)
    switch (found.kind) {
      case 'answered':
        return { type: 'result', result: found.result }
      case 'acknowledged':
        return { type: 'error', code: 'BAD_REQUEST', message: `seq ${c.seq} was already acknowledged` }
      case 'new': {
        const result = this.applyOp(c.op)
        remember(session, c.seq, result, this.options.maxResultsPerSession)
        return { type: 'result', result }
      }
      default:
        return unreachable(found, 'session lookup')
    }
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
    this.data.set(key, value)
    this.markKey(key)
  }

  private markKey(key: string): void {
    if (this.options.trackChanges === true) this.dirtyKeys.add(key)
  }

  private markSession(id: string): void {
    if (this.options.trackChanges === true) this.dirtySessions.add(id)
  }

  /** Sessions expire by the time written in the log, so every replica forgets the same ones. */
  private expireSessions(nowMs: number): void {
    const horizon = nowMs - this.options.sessionTtlMs
    for (const [id, s] of this.sessions) {
      if (s.lastActiveMs < horizon) {
        this.sessions.delete(id)
        this.markSession(id)
      }
    }
  }

  drainChanges(): StateChanges {
    const changes = { keys: this.dirtyKeys, sessions: this.dirtySessions, restored: this.restored }
    this.dirtyKeys = new Set()
    this.dirtySessions = new Set()
    this.restored = false
    return changes
  }

  /** Every session in its encoded form (for a mirror replacing its whole state). */
  *encodedSessions(): IterableIterator<[string, Uint8Array]> {
    for (const id of this.sessions.keys()) yield [id, this.encodeSession(id)!]
  }

  /** The session's encoded form for a durable mirror (null when it no longer exists). */
  encodeSession(id: string): Uint8Array | null {
    const s = this.sessions.get(id)
    return s === undefined ? null : packr.pack([s.lastActiveMs, s.ackedSeq, [...s.results]])
  }

  loadSession(id: string, bytes: Uint8Array): void {
    const [lastActiveMs, ackedSeq, results] = packr.unpack(bytes) as [number, number, Array<[number, OpResult]>]
    this.sessions.set(id, { lastActiveMs, ackedSeq, results: new Map(results) })
  }

  loadKey(key: string, value: Uint8Array): void {
    this.data.set(key, value)
  }

  snapshot(): Uint8Array {
    const image: SnapshotImage = {
      appliedIndex: this.appliedIndex,
      appliedTerm: this.appliedTerm,
      data: [...this.data],
      sessions: [...this.sessions].map(([id, s]) => [id, s.lastActiveMs, s.ackedSeq, [...s.results]] as const),
    }
    return packr.pack(image)
  }

  restore(bytes: Uint8Array): void {
    const image = packr.unpack(bytes) as SnapshotImage
    this.data = new Map(image.data.map(([k, v]) => [k, toBytes(v)]))
    this.sessions = new Map(
      image.sessions.map(([id, lastActiveMs, ackedSeq, results]) => [id, { lastActiveMs, ackedSeq, results: new Map(results) }]),
    )
    this.appliedIndex = image.appliedIndex
    this.appliedTerm = image.appliedTerm
    if (this.options.trackChanges === true) {
      this.restored = true
      this.dirtyKeys.clear()
      this.dirtySessions.clear()
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
