/**
 * The application's state, off the sync path: named tables of string keys -> bytes, and the
 * applied index, in one LMDB environment (lmdb-js).
 *
 * Writes use lmdb-js's asynchronous transactions with overlapping sync: a commit is visible at
 * once and flushed to disk later, in parallel with the next commits. After a crash the database
 * is intact but may have lost its last commits; the WAL still holds them, so the restart rule is
 * "open LMDB at its applied index, replay the log after it". `flush()` tells which applied index
 * is known durable: only below it may the WAL be released.
 */
import { open, type Database, type RootDatabase, type Transaction } from 'lmdb'
import { StorageError, WrongClusterError, WrongReplicaError } from './errors.js'
import { ensureDir } from './fs/durable-io.js'
import { nodeFileSystem } from './fs/node-fs.js'
import { STATE_MAX_KEY_BYTES, STATE_MAX_TABLES, STATE_MAX_TABLE_NAME_CHARS } from './limits.js'

/** One write of `applyBatch`: `value` null deletes the key. */
export interface StateOp {
  readonly table: string
  readonly key: string
  readonly value: Uint8Array | null
}

export interface StateStoreOptions {
  /** The cluster this replica belongs to; a directory of another cluster is refused. */
  readonly clusterId: string
  /**
   * The replica this folder belongs to. Recorded on first open; a folder of another replica is
   * refused (two replicas sharing one log and one vote would break quorum intersection).
   */
  readonly replicaId?: string
}

/** A consistent read-only view of every table at one applied index (an LMDB read transaction). */
export interface StateView {
  readonly appliedIndex: number
  tables(): string[]
  get(table: string, key: string): Uint8Array | undefined
  entries(table: string): Iterable<readonly [string, Uint8Array]>
  /** Ends the read transaction; the view must not be used after. */
  close(): void
}

/** Table contents for `replaceAll`: every table of the new state, each as key/value pairs. */
export type TableContents = Readonly<Record<string, Iterable<readonly [string, Uint8Array]>>>

// The store's own bookkeeping lives in a table applications cannot name ('$' is reserved).
const META = '$meta'
const K_CLUSTER = 'clusterId'
const K_REPLICA = 'replicaId'
const K_APPLIED = 'appliedIndex'
const K_TABLES = 'tables'

type Meta = Database<unknown, string>
type Table = Database<Uint8Array, string>

export class StateStore {
  private readonly tableDbs = new Map<string, Table>()
  /** Highest applied index handed to applyBatch/replaceAll (committed or in flight). */
  private requestedIndex: number
  /** Applied index of the last committed transaction: what `get` sees. */
  private committedIndex: number
  private durableIndex: number
  private closed = false

  private constructor(
    private readonly root: RootDatabase,
    private readonly meta: Meta,
    appliedIndex: number,
  ) {
    this.requestedIndex = this.committedIndex = this.durableIndex = appliedIndex
  }

  static async open(dir: string, options: StateStoreOptions): Promise<StateStore> {
    if (typeof options.clusterId !== 'string' || options.clusterId === '') {
      throw new StorageError('BAD_ARGUMENT', 'clusterId must be a non-empty string')
    }
    await ensureDir(nodeFileSystem, dir)
    // overlappingSync: commits do not wait for the disk (lmdb-js's default on Linux, set explicitly).
    const root = open({ path: dir, maxDbs: STATE_MAX_TABLES + 1, overlappingSync: true })
    const meta: Meta = root.openDB<unknown, string>(META, { encoding: 'msgpack' })
    const found = meta.get(K_CLUSTER)
    if (found !== undefined && found !== options.clusterId) {
      await root.close()
      throw new WrongClusterError(options.clusterId, typeof found === 'string' ? found : JSON.stringify(found))
    }
    const owner = meta.get(K_REPLICA)
    if (options.replicaId !== undefined && owner !== undefined && owner !== options.replicaId) {
      await root.close()
      throw new WrongReplicaError(options.replicaId, typeof owner === 'string' ? owner : JSON.stringify(owner))
    }
    if (options.replicaId !== undefined && owner === undefined) {
      await root.transaction(() => void meta.put(K_REPLICA, options.replicaId))
      await root.flushed
    }
    if (found === undefined) {
      await root.transaction(() => {
        void meta.put(K_CLUSTER, options.clusterId)
        void meta.put(K_APPLIED, 0)
        void meta.put(K_TABLES, [])
      })
      await root.flushed // the cluster id is durable before anything is written under it
    }
    const store = new StateStore(root, meta, asIndex(meta.get(K_APPLIED)))
    for (const name of asNames(meta.get(K_TABLES))) store.openTable(name)
    return store
  }

  /** The applied index of the data `get` and `entries` see now. */
  appliedIndex(): number {
    return this.committedIndex
  }

  /** The highest applied index a `flush()` proved durable. */
  durableAppliedIndex(): number {
    return this.durableIndex
  }

  /**
   * Writes all `ops` and the applied index in ONE transaction. Resolves when committed and
   * visible, not when on disk (see `flush`). Batches commit in call order.
   */
  applyBatch(appliedIndex: number, ops: readonly StateOp[]): Promise<void> {
    this.checkOpen()
    this.checkIndex(appliedIndex)
    for (const op of ops) checkOp(op)
    const newTables = this.openTablesFor(ops.map((op) => op.table))
    this.requestedIndex = appliedIndex
    return this.commit(appliedIndex, () => {
      for (const op of ops) {
        const db = this.tableDbs.get(op.table)!
        if (op.value === null) void db.remove(op.key)
        else void db.put(op.key, op.value)
      }
      if (newTables) void this.meta.put(K_TABLES, [...this.tableDbs.keys()])
    })
  }

  /**
   * Installs a whole state (a snapshot from the leader) in ONE transaction: every table not in
   * `tables` ends empty, every table in it holds exactly its pairs.
   */
  replaceAll(appliedIndex: number, tables: TableContents): Promise<void> {
    this.checkOpen()
    if (!Number.isSafeInteger(appliedIndex) || appliedIndex < 0) {
      throw new StorageError('BAD_ARGUMENT', `applied index must be an integer >= 0, got ${appliedIndex}`)
    }
    // Checked in full before the transaction starts: a throw inside it must not half-apply.
    const contents = Object.entries(tables).map(([name, pairs]) => [name, [...pairs]] as const)
    for (const [table, pairs] of contents) {
      checkTableName(table)
      for (const [key, value] of pairs) checkOp({ table, key, value })
    }
    this.openTablesFor(contents.map(([name]) => name))
    this.requestedIndex = appliedIndex
    return this.commit(appliedIndex, () => {
      for (const db of this.tableDbs.values()) {
        for (const key of [...db.getKeys()]) void db.remove(key)
      }
      for (const [name, pairs] of contents) {
        const db = this.tableDbs.get(name)!
        for (const [key, value] of pairs) void db.put(key, value)
      }
      void this.meta.put(K_TABLES, [...this.tableDbs.keys()])
    })
  }

  /** Waits until every commit so far is on disk; returns the applied index now known durable. */
  async flush(): Promise<number> {
    this.checkOpen()
    const index = this.requestedIndex
    await this.root.flushed
    this.durableIndex = index
    return this.durableIndex
  }

  get(table: string, key: string): Uint8Array | undefined {
    this.checkOpen()
    return this.tableDbs.get(table)?.get(key)
  }

  *entries(table: string): Generator<readonly [string, Uint8Array]> {
    this.checkOpen()
    const db = this.tableDbs.get(table)
    if (db === undefined) return
    for (const { key, value } of db.getRange({})) yield [key, value] as const
  }

  tables(): string[] {
    return [...this.tableDbs.keys()]
  }

  /** A consistent view of all tables, usable while writes go on. Close it when done. */
  readSnapshot(): StateView {
    this.checkOpen()
    const txn: Transaction = this.root.useReadTransaction()
    const names = asNames(this.meta.get(K_TABLES, { transaction: txn }))
    const dbs = new Map(names.map((n) => [n, this.tableDbs.get(n)!] as const))
    let open = true
    const live = () => {
      if (!open) throw new StorageError('STATE_CLOSED', 'the state view is closed')
    }
    return {
      appliedIndex: asIndex(this.meta.get(K_APPLIED, { transaction: txn })),
      tables: () => [...names],
      get: (table, key) => (live(), dbs.get(table)?.get(key, { transaction: txn })),
      entries: function* (table) {
        live()
        const db = dbs.get(table)
        if (db === undefined) return
        for (const { key, value } of db.getRange({ transaction: txn })) yield [key, value] as const
      },
      close: () => {
        if (open) txn.done()
        open = false
      },
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.root.close()
  }

  private commit(appliedIndex: number, writes: () => void): Promise<void> {
    return this.root
      .transaction(() => {
        writes()
        void this.meta.put(K_APPLIED, appliedIndex)
      })
      .then(() => {
        // Transactions commit in call order, so the last one to commit names the state.
        this.committedIndex = appliedIndex
      })
  }

  /** Opens tables not open yet; true if any was new. */
  private openTablesFor(names: readonly string[]): boolean {
    let added = false
    for (const name of names) {
      if (this.tableDbs.has(name)) continue
      if (this.tableDbs.size >= STATE_MAX_TABLES) {
        throw new StorageError('BAD_ARGUMENT', `at most ${STATE_MAX_TABLES} tables; cannot add "${name}"`)
      }
      this.openTable(name)
      added = true
    }
    return added
  }

  private openTable(name: string): void {
    this.tableDbs.set(name, this.root.openDB<Uint8Array, string>(name, { encoding: 'binary' }))
  }

  private checkIndex(appliedIndex: number): void {
    if (!Number.isSafeInteger(appliedIndex) || appliedIndex < this.requestedIndex) {
      throw new StorageError('BAD_ARGUMENT', `applied index ${appliedIndex} is below ${this.requestedIndex}`)
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('STATE_CLOSED', 'state store is closed')
  }
}

function checkTableName(name: string): void {
  if (typeof name !== 'string' || name === '' || name.startsWith('$') || name.length > STATE_MAX_TABLE_NAME_CHARS) {
    throw new StorageError('BAD_ARGUMENT', `bad table name "${name}" (1..${STATE_MAX_TABLE_NAME_CHARS} chars, not starting with $)`)
  }
}

function checkOp(op: StateOp): void {
  checkTableName(op.table)
  if (typeof op.key !== 'string' || op.key === '' || Buffer.byteLength(op.key) > STATE_MAX_KEY_BYTES) {
    throw new StorageError('BAD_ARGUMENT', `key must be a non-empty string of at most ${STATE_MAX_KEY_BYTES} bytes`)
  }
  if (op.value !== null && !(op.value instanceof Uint8Array)) {
    throw new StorageError('BAD_ARGUMENT', `value for "${op.key}" must be a Uint8Array or null`)
  }
}

function asIndex(v: unknown): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v
  throw new StorageError('STATE_CORRUPT', `state store meta holds a bad applied index: ${String(v)}`)
}

function asNames(v: unknown): string[] {
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v
  throw new StorageError('STATE_CORRUPT', 'state store meta holds a bad table list')
}
