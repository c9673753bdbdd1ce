import { assert } from '@kv/consensus'
import type { ClientResponse } from '@kv/protocol'
import type { GroupMessage, MachineContext } from './group-message.js'
import type { LogRecord, RecordKind } from './log-record.js'

/** How the group shell treats a client operation. */
export type OpClass =
  /** Logged, applied on every replica, answered once applied (exactly once, by session). */
  | 'write'
  /** Linearizable: served from local state after a read barrier, never logged. */
  | 'read'
  /** Served at once from whatever this replica has applied (the caller asked for it). */
  | 'stale-read'

/**
 * A read the machine has no answer for yet (a watch poll with no new event). The shell keeps it
 * (at most `maxHeldReads`), asks again after each apply, and past `waitMs` (by the env's clock)
 * asks for a final answer; it answers NOT_LEADER if it stops leading meanwhile.
 */
export interface ReadHold<Op> {
  readonly type: 'hold'
  readonly waitMs: number
  /** The read to ask again (the machine may note how far it already looked). */
  readonly retry: Op
}

/**
 * What a group replicates: the KV machine, the controller's shard-map machine. The group
 * shell (`Replica`) owns the log, batching, read barriers, snapshots and the waiting
 * clients; a machine owns its state and what each record means. Deterministic: the same
 * records applied in the same order give the same state on every replica.
 */
export interface StateMachine<Op> {
  /** The record kind the shell logs this machine's client writes as. */
  readonly commandKind: RecordKind
  /** Index and term of the last applied entry. */
  readonly appliedIndex: number
  readonly appliedTerm: number
  classify(op: Op): OpClass
  /**
   * Answers a read (`classify` said read or stale-read) from the applied state, or holds it
   * until a later apply can (never when `final`: then it answers with what it has).
   */
  read(op: Op, final?: boolean): ClientResponse | ReadHold<Op>
  /** Marks an entry applied that carries nothing for the machine (a no-op). */
  applyNoop(index: number, term: number): void
  /**
   * Applies the record at `index`. For a record of `commandKind`, returns one answer per
   * command, in order; for any other record, none.
   */
  apply(index: number, term: number, record: LogRecord): readonly ClientResponse[]
  /** An image of the whole state at `appliedIndex`, restorable on any replica. */
  snapshot(): Uint8Array
  restore(data: Uint8Array): void
  /** A digest of the user-visible state, equal on replicas at one applied index. */
  digest(): string
  /** A message from a replica of another group. A gateway: validate before trusting it. */
  onGroupMessage?(msg: GroupMessage, ctx: MachineContext): void
  /** Called on every tick of the replica (after the core's), for work the machine drives itself. */
  tick?(ctx: MachineContext): void  /** What `kv status` shows of the machine (shard groups: epoch, keys, migrations). */
  statusInfo?(): { readonly epoch?: number; readonly keys?: number; readonly migrations?: readonly string[] }
}

/** A machine that can be mirrored into a table store (LMDB) off the sync path. */
export interface TableChanges {
  /** The whole state was replaced (a snapshot was restored): rewrite every table. */
  readonly restored: boolean
  /** Rows written since the last drain; `value` null deletes the row. */
  readonly rows: ReadonlyArray<{ readonly table: string; readonly key: string; readonly value: Uint8Array | null }>
}

export interface MirroredStateMachine {
  readonly appliedIndex: number
  /** The machine's tables, each a name and its rows. */
  readonly tableNames: readonly string[]
  drainChanges(): TableChanges
  /** Every row of one table (to rewrite it whole). */
  tableRows(table: string): Iterable<readonly [string, Uint8Array]>
  /** Loads one row read back from the store, at start-up. */
  loadRow(table: string, key: string, value: Uint8Array): void
  /** Start-up is done: the store's rows were at `appliedIndex`. */
  loaded(appliedIndex: number): void
}

/** Every machine applies the log gap-free. */
export function assertNextIndex(applied: number, index: number): void {
  assert(index === applied + 1, () => `applied ${index} after ${applied}: the log must apply gap-free`)
}
