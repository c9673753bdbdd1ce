import { Packr } from 'msgpackr'
import { checkControllerWriteShape, checkShardMap, checkWriteOpShape, type ControllerWriteOp, type ShardMap, type WriteOp } from '@kv/protocol'
import { isWireRevision } from '@kv/protocol'
import type { EncodedSession, SessionCommand } from './session.js'

/** One client write as it sits in the log. */
export interface Command<Op = WriteOp> extends SessionCommand {
  readonly op: Op
}

/**
 * The payload of one log entry. Every record names its `kind` (which state machine it is
 * for, and what it means) and the `v`ersion of that kind's layout, so new kinds can join one
 * log and a replica can still replay a log written by an older release.
 *
 * Command records carry a batch of client writes stamped with the leader's clock: the stamp
 * is the only time a state machine ever sees, so session expiry is the same on every replica.
 */
export type LogRecord = KvRecord | ControllerRecord | ControllerInitRecord | MigrationRecord

export interface KvRecord {
  readonly kind: 'kv'
  readonly v: 1
  readonly timeMs: number
  readonly commands: readonly Command<WriteOp>[]
}

/** The controller group's log: changes to the shard map. */
export interface ControllerRecord {
  readonly kind: 'controller'
  readonly v: 1
  readonly timeMs: number
  readonly commands: readonly Command<ControllerWriteOp>[]
}

/** The controller's first map (epoch 1), logged by its first leader so that it never depends on a config file again. */
export interface ControllerInitRecord {
  readonly kind: 'controller-init'
  readonly v: 1
  readonly map: ShardMap
}

/**
 * A step of a shard migration, in a shard group's log (DESIGN.md "Shard migration"). Every
 * step is idempotent: applied twice, or after the state moved on, it changes nothing.
 */
export interface MigrationRecord {
  readonly kind: 'migration'
  readonly v: 1
  readonly step: MigrationStep
}

export type MigrationStep =
  /** Apply the shard map of the next epoch: lost arcs freeze, gained arcs wait for their data. */
  | { readonly type: 'config'; readonly map: ShardMap }
  /** The gainer starts pulling the arcs that `from` loses to it at `epoch` (SEND_KEYS_REQUEST). */
  | { readonly type: 'send-keys-request'; readonly epoch: number; readonly from: string }
  /** The loser starts answering `to` for the arcs it loses at `epoch` (SEND_KEYS_RESPONSE). */
  | { readonly type: 'send-keys-response'; readonly epoch: number; readonly to: string }
  /** One chunk of the moved keys, committed by the gainer; the last one carries the sessions. */
  | InstallStep
  /** Every chunk from `from` is in: the gained arcs serve (SHARD_READY). */
  | { readonly type: 'shard-ready'; readonly epoch: number; readonly from: string }
  /** The loser learned that `to` has the keys: it deletes them (KEYS_LEARNED). */
  | { readonly type: 'keys-learned'; readonly epoch: number; readonly to: string }
  /** The gainer learned that `from` deleted them: the move is over. */
  | { readonly type: 'learned-acked'; readonly epoch: number; readonly from: string }

/**
 * One chunk of a move, as the gainer logs it. `floors` and `bucketFloors` (since watches; absent
 * in logs of older releases) are the loser's word on the moved keys' past, for watches that
 * resume here (see watch-history.ts): `[key, epoch, index]` bounds every earlier event of a key
 * (a chunk of keys has one per key; a chunk of session buckets one per key of those buckets that
 * the loser no longer holds but has events of), and `[bucket, epoch, index]` every event of the
 * other keys of a bucket (by `hashKey(key) % SESSION_BUCKETS`) that the loser does not hold.
 */
export interface InstallStep extends MoveChunk {
  readonly type: 'install'
  readonly from: string
}

/** One bounded chunk of a move's stream [cursor, next), as the loser sends it (`SendKeysResponse`)
 * and the gainer logs it (`InstallStep`): keys in key order, then client sessions by bucket;
 * `done` on the last. */
export interface MoveChunk {
  readonly epoch: number
  readonly cursor: number
  readonly next: number
  readonly done: boolean
  readonly entries: ReadonlyArray<readonly [string, Uint8Array]>
  readonly sessions: ReadonlyArray<readonly [string, ...EncodedSession]>
  /** For watches (a loser of an older release sends none). */
  readonly floors?: ReadonlyArray<readonly [string, number, number]>
  readonly bucketFloors?: ReadonlyArray<readonly [number, number, number]>
}

export type RecordKind = LogRecord['kind']

/** The newest layout version of each kind: what this release writes. */
export const currentRecordVersion: Readonly<Record<RecordKind, number>> = { kv: 1, controller: 1, 'controller-init': 1, migration: 1 }

/** A committed log entry that this release cannot read: the log is corrupt or from a newer release. */
export class LogRecordError extends Error {
  readonly code = 'BAD_LOG_RECORD'
  constructor(message: string) {
    super(message)
    this.name = 'LogRecordError'
  }
}

// A fixed encoding: every replica must decode what any other replica wrote, so no
// shared structures are used here (they would live in one process's memory only).
const packr = new Packr({ useRecords: false, moreTypes: false })

export function encodeRecord(record: LogRecord): Uint8Array {
  return packr.pack(record)
}

/**
 * The checked decoder for log entries. It checks the record's shape, not the gateway's size
 * limits: an entry that is committed must replay on every replica of every later release,
 * even one whose limits are tighter than those it was accepted under.
 *
 * Version 0 of `kv` is the layout before records were tagged: `{ timeMs, commands }`.
 */
export function decodeRecord(data: Uint8Array): LogRecord {
  let raw: unknown
  try {
    raw = packr.unpack(data)
  } catch (err) {
    throw new LogRecordError(`log entry is not MessagePack: ${err instanceof Error ? err.message : String(err)}`)
  }
  if (!isObject(raw)) throw new LogRecordError('log entry must be a map')
  const kind: unknown = raw.kind ?? (raw.v === undefined ? 'kv' : undefined)
  const v: unknown = raw.v ?? 0
  switch (kind) {
    case 'kv':
      if (v !== 0 && v !== 1) throw new LogRecordError(`kv record version ${JSON.stringify(v)} is newer than this release reads (1)`)
      return { kind: 'kv', v: 1, timeMs: checkTime(raw.timeMs), commands: checkCommands(raw.commands, checkWriteOpShape) }
    case 'controller':
      if (v !== 1) throw new LogRecordError(`controller record version ${JSON.stringify(v)} is newer than this release reads (1)`)
      return { kind: 'controller', v: 1, timeMs: checkTime(raw.timeMs), commands: checkCommands(raw.commands, checkControllerWriteShape) }
    case 'controller-init':
      if (v !== 1) throw new LogRecordError(`controller-init record version ${JSON.stringify(v)} is newer than this release reads (1)`)
      if (!checkShardMap(raw.map) || raw.map.epoch !== 1) throw new LogRecordError('controller-init record: map must be a shard map of epoch 1')
      return { kind: 'controller-init', v: 1, map: raw.map }
    case 'migration':
      if (v !== 1) throw new LogRecordError(`migration record version ${JSON.stringify(v)} is newer than this release reads (1)`)
      return { kind: 'migration', v: 1, step: checkMigrationStep(raw.step) }
    default:
      throw new LogRecordError(`unknown log record kind ${JSON.stringify(kind)}`)
  }
}

function checkMigrationStep(raw: unknown): MigrationStep {
  if (!isObject(raw)) throw new LogRecordError('migration step must be a map')
  const epochOk = isSeq(raw.epoch) && raw.epoch >= 1
  const name = (x: unknown) => typeof x === 'string' && x.length > 0
  switch (raw.type) {
    case 'config':
      if (!checkShardMap(raw.map)) throw new LogRecordError('migration config: map must be a shard map')
      return raw as MigrationStep
    case 'send-keys-request':
    case 'shard-ready':
    case 'learned-acked':
      if (!epochOk || !name(raw.from)) throw new LogRecordError(`migration ${raw.type}: needs epoch and from`)
      return raw as MigrationStep
    case 'send-keys-response':
    case 'keys-learned':
      if (!epochOk || !name(raw.to)) throw new LogRecordError(`migration ${raw.type}: needs epoch and to`)
      return raw as MigrationStep
    case 'install': {
      const ok =
        epochOk && name(raw.from) && isSeq(raw.cursor) && isSeq(raw.next) && typeof raw.done === 'boolean' &&
        isChunk(raw.entries, raw.sessions) && isChunkFloors(raw.floors, raw.bucketFloors)
      if (!ok) throw new LogRecordError('migration install: malformed chunk')
      return raw as MigrationStep
    }
    default:
      throw new LogRecordError(`unknown migration step ${JSON.stringify(raw.type)}`)
  }
}

/** The shape of a chunk of moved keys and sessions (in an install record or a SendKeysResponse). */
export function isChunk(entries: unknown, sessions: unknown): boolean {
  return (
    Array.isArray(entries) &&
    entries.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && e[1] instanceof Uint8Array) &&
    Array.isArray(sessions) &&
    sessions.every((s) => Array.isArray(s) && s.length === 4 && typeof s[0] === 'string' && typeof s[1] === 'number' && typeof s[2] === 'number' && Array.isArray(s[3]))
  )
}

/** The optional watch floors of a chunk (absent in chunks of older releases). */
export function isChunkFloors(floors: unknown, bucketFloors: unknown): boolean {
  const floorsOk =
    floors === undefined ||
    (Array.isArray(floors) && floors.every((f) => Array.isArray(f) && f.length === 3 && typeof f[0] === 'string' && isWireRevision([f[1], f[2]])))
  const bucketsOk =
    bucketFloors === undefined ||
    (Array.isArray(bucketFloors) && bucketFloors.every((f) => Array.isArray(f) && f.length === 3 && isWireRevision([f[0], 0]) && isWireRevision([f[1], f[2]])))
  return floorsOk && bucketsOk
}

function checkTime(t: unknown): number {
  if (typeof t !== 'number' || !Number.isFinite(t)) throw new LogRecordError('record timeMs must be a finite number')
  return t
}

function checkCommands<Op>(raw: unknown, checkOp: (op: unknown) => string | null): Command<Op>[] {
  if (!Array.isArray(raw)) throw new LogRecordError('record commands must be a list')
  for (const c of raw) {
    if (!isObject(c)) throw new LogRecordError('a command must be a map')
    if (typeof c.clientId !== 'string' || c.clientId === '') throw new LogRecordError('command clientId must be a non-empty string')
    if (!isSeq(c.seq) || c.seq < 1 || !isSeq(c.ackedSeq) || c.ackedSeq >= c.seq) {
      throw new LogRecordError(`command of ${c.clientId}: seq and ackedSeq must be integers with 0 ≤ ackedSeq < seq`)
    }
    const problem = checkOp(c.op)
    if (problem !== null) throw new LogRecordError(`command ${c.clientId}#${c.seq}: ${problem}`)
  }
  return raw as Command<Op>[]
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

function isSeq(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
}
