/**
 * What replaying WAL records in order yields: the latest hard state, the latest snapshot
 * marker, and the entries after it by index. Paxos logs may have holes, so entries live in a
 * map by index; nothing assumes that indexes are contiguous.
 */
import type { Entry, HardState } from '@kv/consensus'
import { unreachable } from '@kv/consensus'
import type { SnapshotMeta, WalRecord } from './record.js'

export interface WalState {
  readonly hardState: HardState | null
  readonly snapshotMeta: SnapshotMeta | null
  /** Entries after the snapshot marker, in index order (holes possible). */
  readonly entries: readonly Entry[]
}

export class LogImage {
  hardState: HardState | null = null
  snapshotMeta: SnapshotMeta | null = null
  private readonly byIndex = new Map<number, Entry>()

  apply(record: WalRecord): void {
    switch (record.type) {
      case 'entries':
        for (const e of record.entries) {
          // Entries a snapshot already covers stay dropped.
          if (this.snapshotMeta === null || e.index > this.snapshotMeta.index) this.byIndex.set(e.index, e)
        }
        return
      case 'truncate':
        for (const index of this.byIndex.keys()) if (index >= record.fromIndex) this.byIndex.delete(index)
        return
      case 'hardState':
        this.hardState = record.hardState
        return
      case 'snapshotMarker':
        // A snapshot never moves the log backwards: an older marker written late changes nothing.
        if (this.snapshotMeta !== null && record.snapshot.index < this.snapshotMeta.index) return
        this.snapshotMeta = record.snapshot
        for (const index of this.byIndex.keys()) if (index <= record.snapshot.index) this.byIndex.delete(index)
        return
      default:
        unreachable(record, 'WAL record')
    }
  }

  state(): WalState {
    const entries = [...this.byIndex.values()].sort((a, b) => a.index - b.index)
    return { hardState: this.hardState, snapshotMeta: this.snapshotMeta, entries }
  }
}
