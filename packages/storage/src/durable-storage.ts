/**
 * The façade the replica shell calls once per Ready. It ties the three stores together:
 *
 *   dir/wal/    the write-ahead log (consensus log + hard state + snapshot marker): durable per Ready
 *   dir/snap/   the snapshot files (the newest, and one older)
 *   dir/state/  LMDB: the application's tables and applied index, flushed lazily
 *
 * Restart rule: open LMDB at its applied index; the core gets the WAL's hard state, the snapshot
 * the WAL marker names, and the entries after it; the shell applies only entries above
 * `appliedIndex` (restoring from `persisted.snapshot` first when `appliedIndex` is below it).
 */
import type { PersistedState, Ready, Snapshot } from '@kv/consensus'
import path from 'node:path'
import { StorageError } from './errors.js'
import { SnapshotStore, type SnapshotStoreOptions } from './snapshot-store.js'
import { StateStore } from './state-store.js'
import type { SnapshotMeta } from './wal/record.js'
import type { WalBatch } from './wal/batch.js'
import { Wal, type WalOptions, type WalRecovery } from './wal/wal.js'

export interface DurableReplicaStorageOptions {
  readonly clusterId: string
  /** Recorded in the folder on first open; a folder of another replica is refused. */
  readonly replicaId?: string
  readonly wal?: WalOptions
  /** Options of the snapshot store (`dir/snap/`), such as its file layer. */
  readonly snapshots?: SnapshotStoreOptions
}

export interface OpenedReplicaStorage {
  readonly storage: DurableReplicaStorage
  /** For the core: hard state, the snapshot (with data) the WAL marker names, entries after it. */
  readonly persisted: PersistedState
  /** The state store's applied index: entries up to it are already in `storage.state`. */
  readonly appliedIndex: number
  /** A torn WAL tail cut off at open, if any. */
  readonly recovery: WalRecovery | null
}

export class DurableReplicaStorage {
  /** Snapshot saves and the marker that follows them run one at a time, in call order. */
  private snapshotChain: Promise<unknown> = Promise.resolve()
  /**
   * Resolves once the WAL write of the latest `persistReady` was issued, while a Ready's
   * snapshot file is being saved ahead of its write (null: every write was issued already).
   * Writes queued behind it wait, so the WAL holds the Readys in the order they came.
   */
  private issuing: Promise<unknown> | null = null

  private constructor(
    private readonly wal: Wal,
    private readonly snapshots: SnapshotStore,
    readonly state: StateStore,
    private snapshotMeta: SnapshotMeta | null,
  ) {}

  static async open(dir: string, options: DurableReplicaStorageOptions): Promise<OpenedReplicaStorage> {
    // The state store first: a directory of another cluster is refused before anything is touched.
    const state = await StateStore.open(path.join(dir, 'state'), {
      clusterId: options.clusterId,
      ...(options.replicaId === undefined ? {} : { replicaId: options.replicaId }),
    })
    try {
      const snapshots = await SnapshotStore.open(path.join(dir, 'snap'), options.snapshots ?? {})
      const { wal, state: log, recovery } = await Wal.open(path.join(dir, 'wal'), options.wal ?? {})
      const marker = log.snapshotMeta
      const snapshot = marker === null ? null : await snapshots.loadAt(marker.index, marker.term)
      if (marker !== null && snapshot === null) {
        await wal.close()
        throw new StorageError('SNAPSHOT_MISSING', `WAL marker names snapshot ${marker.index}/${marker.term}, which is not on disk`)
      }
      // Snapshot files newer than the marker were never acknowledged (crash before the marker).
      if (marker === null) await snapshots.pruneExcept(-1, -1, false)
      else await snapshots.pruneExcept(marker.index, marker.term)
      const storage = new DurableReplicaStorage(wal, snapshots, state, marker)
      const persisted: PersistedState = { hardState: log.hardState, snapshot, entries: log.entries }
      return { storage, persisted, appliedIndex: state.appliedIndex(), recovery }
    } catch (e) {
      await state.close()
      throw e
    }
  }

  /**
   * Step 2 of the Ready contract: the snapshot (if any) saved as a file first, then ONE WAL write
   * (marker, truncate, entries, hard state). Readys may be persisted while earlier ones are in
   * flight: their WAL writes are issued in call order (the WAL makes them durable in that order,
   * several per fdatasync), so a crash keeps a prefix of them. A Ready behind one whose snapshot
   * file is still being saved waits for that write to be issued first.
   */
  persistReady(ready: Pick<Ready, 'hardState' | 'snapshot' | 'truncateFrom' | 'entries'>): Promise<void> {
    const { snapshot } = ready
    const batch: WalBatch = { hardState: ready.hardState, truncateFrom: ready.truncateFrom, entries: ready.entries }
    if (snapshot === null && this.issuing === null) return this.wal.write(batch)
    const previous = this.issuing ?? Promise.resolve()
    const issued = previous.then(() => (snapshot === null ? { written: this.wal.write(batch) } : this.issueSnapshotWrite(snapshot, batch)))
    this.issuing = issued
    const clear = () => {
      if (this.issuing === issued) this.issuing = null
    }
    issued.then(clear, clear)
    return issued.then(({ written }) => written)
  }

  /** Saves `snapshot`'s file, then issues the WAL write naming it; resolves once issued. */
  private issueSnapshotWrite(snapshot: Snapshot, batch: WalBatch): Promise<{ written: Promise<void> }> {
    return new Promise((resolveIssued, rejectIssued) => {
      const written: Promise<void> = this.withSnapshotLock(async () => {
        await this.snapshots.save(snapshot)
        const meta = { index: snapshot.index, term: snapshot.term }
        const write = this.wal.write({ snapshotMeta: meta, ...batch })
        resolveIssued({ written })
        await write
        await this.markerWritten(meta)
      })
      written.catch(rejectIssued) // a failed save: nothing was issued
    })
  }

  /**
   * The application's own compaction: stores `snapshot` (covering applied entries), writes the
   * WAL marker, then deletes WAL segments whose entries are all <= min(snapshot.index, the
   * durably flushed applied index). Returns how many segments went.
   */
  saveSnapshot(snapshot: Snapshot): Promise<number> {
    return this.withSnapshotLock(async () => {
      if (this.snapshotMeta !== null && snapshot.index < this.snapshotMeta.index) return 0 // older than what we have
      await this.snapshots.save(snapshot)
      const meta = { index: snapshot.index, term: snapshot.term }
      await this.wal.write({ snapshotMeta: meta })
      await this.markerWritten(meta)
      // Only below what LMDB has on disk: entries above it must still be replayable after a crash.
      const durableApplied = await this.state.flush()
      return this.wal.releaseUpTo(Math.min(snapshot.index, durableApplied))
    })
  }

  /** WAL counters (syncs, writes, segments), for tests and metrics. */
  walStats() {
    return this.wal.stats()
  }

  async close(): Promise<void> {
    await this.issuing?.catch(() => undefined)
    await this.snapshotChain.catch(() => undefined)
    await this.wal.close()
    await this.state.close()
  }

  private async markerWritten(meta: SnapshotMeta): Promise<void> {
    if (this.snapshotMeta === null || meta.index >= this.snapshotMeta.index) this.snapshotMeta = meta
    await this.snapshots.pruneExcept(this.snapshotMeta.index, this.snapshotMeta.term)
  }

  private withSnapshotLock<T>(run: () => Promise<T>): Promise<T> {
    const result = this.snapshotChain.then(run, run)
    this.snapshotChain = result.catch(() => undefined)
    return result
  }
}
