import type { Entry, HardState, PersistedState, Ready, Snapshot } from '@kv/consensus'

/**
 * A node's simulated disk. Only what a completed sync wrote survives a crash: a write in
 * flight when the node crashes is lost whole (the real write-ahead log cuts a torn tail the
 * same way).
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
  syncs = 0

  /** The hard state on disk (null before the first write of one). */
  get hardState(): HardState | null {
    return this.hardStateOnDisk
  }

  write(ready: Ready): void {
    // Only entries, a snapshot, a truncation or a new term/vote need a sync; the commit index
    // may be written lazily (it can be learned again), as the real log does.
    const hs = ready.hardState
    const voteOrTerm = hs !== null && (hs.term !== this.hardStateOnDisk?.term || hs.vote !== this.hardStateOnDisk.vote)
    if (ready.snapshot !== null || ready.truncateFrom !== null || ready.entries.length > 0 || voteOrTerm) this.syncs++
    if (ready.snapshot !== null) this.installSnapshot(ready.snapshot)
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
  }

  /** The application's own snapshot: the log below it is no longer needed. */
  installSnapshot(snapshot: Snapshot): void {
    this.syncs++
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
