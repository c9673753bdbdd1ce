import type { Entry, HardState, PersistedState, Ready, Snapshot } from '@kv/consensus'

/** A write the replica handed to the disk, and what to call once it is durable. */
interface QueuedWrite {
  readonly ready: Ready
  readonly done: () => void
}

/**
 * A node's simulated disk, with the write-ahead log's group commit: writes queue in call
 * order; one sync at a time takes every write queued (so the Readys handed out while a sync
 * is in flight share the next one), and reports them done in order once it completes. Only
 * what a completed sync wrote survives a crash: writes queued or in the sync in flight when
 * the node crashes are lost whole (the real write-ahead log cuts a torn tail the same way),
 * so a crash keeps a prefix of the writes. A write that needs no sync (nothing but a new
 * commit index) is done at once when nothing is queued before it, as the node does.
 */
export class SimDisk {
  private hardStateOnDisk: HardState | null = null
  private snapshot: Snapshot | null = null
  private readonly entries = new Map<number, Entry>()
  /** Bytes of log entries currently held (the snapshot-size test bounds this). */
  logBytes = 0
  /** Largest `logBytes` ever held. */
  maxLogBytes = 0
  /** Bytes of entries ever written. */
  bytesWritten = 0
  /** Syncs completed (one per group of writes, one per snapshot of the application). */
  syncs = 0

  /** The hard state on disk (null before the first write of one). */
  get hardState(): HardState | null {
    return this.hardStateOnDisk
  }
  /** Writes waiting for the next sync, oldest first. */
  private queued: QueuedWrite[] = []
  /** The writes of the sync in flight (null: none is). */
  private syncing: QueuedWrite[] | null = null

  /** A Ready's write, queued behind every earlier one. */
  enqueue(ready: Ready, done: () => void): void {
    this.queued.push({ ready, done })
  }

  /** Nothing is queued or syncing. */
  get idle(): boolean {
    return this.syncing === null && this.queued.length === 0
  }

  /** Whether `ready`, written next on an idle disk, would need a sync (see `needsSync`). */
  needsSync(ready: Ready): boolean {
    return needsSync(ready, this.hardStateOnDisk)
  }

  /** A write that needs no sync, on an idle disk: done at once (lazily durable, like the commit index). */
  writeWithoutSync(ready: Ready): void {
    this.write(ready)
  }

  /**
   * Starts a sync of every queued write, unless one is in flight or nothing is queued (null).
   * Returns whether the group needs a real sync: one of mere commit indexes completes at once.
   */
  startSync(): { readonly needsSync: boolean } | null {
    if (this.syncing !== null || this.queued.length === 0) return null
    this.syncing = this.queued
    this.queued = []
    let hardState = this.hardStateOnDisk
    let needed = false
    for (const w of this.syncing) {
      needed = needed || needsSync(w.ready, hardState)
      hardState = w.ready.hardState ?? hardState
    }
    return { needsSync: needed }
  }

  /** The Readys of the sync in flight, in order (empty when none is). */
  syncingReadys(): Ready[] {
    return (this.syncing ?? []).map((w) => w.ready)
  }

  /** The sync in flight completed: its writes are durable; returns their `done`s, in order. */
  completeSync(): Array<() => void> {
    const group = this.syncing ?? []
    this.syncing = null
    let needed = false
    for (const w of group) needed = this.write(w.ready) || needed
    if (needed) this.syncs++
    return group.map((w) => w.done)
  }

  /** The node crashed: every write not synced yet is lost. */
  crash(): void {
    this.queued = []
    this.syncing = null
  }

  /** The entry durably held at `index`: from the log, 'snapshot' when the snapshot covers it. */
  durableAt(index: number): Entry | 'snapshot' | undefined {
    if (this.snapshot !== null && index <= this.snapshot.index) return 'snapshot'
    return this.entries.get(index)
  }

  /** Applies one write; returns whether it needed a sync (see `needsSync`). */
  private write(ready: Ready): boolean {
    const needed = needsSync(ready, this.hardStateOnDisk)
    if (ready.snapshot !== null) this.storeSnapshot(ready.snapshot)
    if (ready.truncateFrom !== null) {
      for (const index of [...this.entries.keys()]) if (index >= ready.truncateFrom) this.drop(index)
    }
    for (const e of ready.entries) {
      this.drop(e.index)
      this.entries.set(e.index, e)
      this.logBytes += entryBytes(e)
      this.bytesWritten += entryBytes(e)
    }
    this.maxLogBytes = Math.max(this.maxLogBytes, this.logBytes)
    if (ready.hardState !== null) this.hardStateOnDisk = ready.hardState
    return needed
  }

  /** The application's own snapshot: the log below it is no longer needed. */
  installSnapshot(snapshot: Snapshot): void {
    this.syncs++
    this.storeSnapshot(snapshot)
  }

  private storeSnapshot(snapshot: Snapshot): void {
    if (this.snapshot !== null && this.snapshot.index >= snapshot.index) return
    this.snapshot = snapshot
    for (const index of [...this.entries.keys()]) if (index <= snapshot.index) this.drop(index)
  }

  private drop(index: number): void {
    const old = this.entries.get(index)
    if (old === undefined) return
    this.logBytes -= entryBytes(old)
    this.entries.delete(index)
  }

  get snapshotBytes(): number {
    return this.snapshot?.data.length ?? 0
  }

  persisted(): PersistedState {
    const entries = [...this.entries.values()].sort((a, b) => a.index - b.index)
    return { hardState: this.hardStateOnDisk, snapshot: this.snapshot, entries }
  }
}

function entryBytes(e: Entry): number {
  return 16 + (e.type === 'normal' ? e.data.length : 0)
}

/**
 * Only entries, a snapshot, a truncation or a new term/vote need a sync; the commit index may
 * be written lazily (it can be learned again), as the real log does.
 */
function needsSync(ready: Ready, durable: HardState | null): boolean {
  const hs = ready.hardState
  const voteOrTerm = hs !== null && (hs.term !== durable?.term || hs.vote !== durable.vote)
  return ready.snapshot !== null || ready.truncateFrom !== null || ready.entries.length > 0 || voteOrTerm
}
