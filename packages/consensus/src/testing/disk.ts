import type { Entry, HardState, PersistedState, Ready, Snapshot } from '../types.js'

/**
 * A replica's simulated disk. It holds exactly what the shell made durable, so a crash loses
 * everything else. Writes are copied in (structured clone): the core cannot change what is
 * "on disk" by mutating its own objects later.
 */
export class SimDisk {
  private hard: HardState | null = null
  private snap: Snapshot | null = null
  private readonly log = new Map<number, Entry>()
  /** Durable writes so far (one per Ready, one per compaction). */
  syncs = 0

  get hardState(): HardState | null {
    return this.hard
  }

  get snapshot(): Snapshot | null {
    return this.snap
  }

  get snapshotIndex(): number {
    return this.snap?.index ?? 0
  }

  entryAt(index: number): Entry | undefined {
    return this.log.get(index)
  }

  /** Step 2 of the Ready duties, as one durable write: snapshot, truncation, entries, hard state. */
  persist(ready: Ready): void {
    if (ready.snapshot !== null) this.installSnapshot(ready.snapshot)
    if (ready.truncateFrom !== null) {
      for (const index of [...this.log.keys()]) if (index >= ready.truncateFrom) this.log.delete(index)
    }
    for (const entry of ready.entries) {
      // Entries the snapshot already covers carry nothing a restart would need.
      if (entry.index > this.snapshotIndex) this.log.set(entry.index, structuredClone(entry))
    }
    if (ready.hardState !== null) this.hard = { ...ready.hardState }
    this.syncs++
  }

  /** The application stored a snapshot durably (before handing it to `core.compact`). */
  storeSnapshot(snapshot: Snapshot): void {
    if (snapshot.index <= this.snapshotIndex) return
    this.installSnapshot(snapshot)
    this.syncs++
  }

  /** What a restarted core is given: everything on disk, as a fresh copy. */
  load(): PersistedState {
    const entries = [...this.log.values()].sort((a, b) => a.index - b.index)
    return structuredClone({ hardState: this.hard, snapshot: this.snap, entries })
  }

  /** Durable log indexes in order (for checkers and tests). */
  indexes(): number[] {
    return [...this.log.keys()].sort((a, b) => a - b)
  }

  private installSnapshot(snapshot: Snapshot): void {
    this.snap = structuredClone(snapshot)
    for (const index of [...this.log.keys()]) if (index <= snapshot.index) this.log.delete(index)
  }
}
