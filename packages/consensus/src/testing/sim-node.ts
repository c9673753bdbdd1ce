import type { ConsensusCore, Entry, NodeId, Ready, Status } from '../types.js'
import type { Rng } from '../random.js'
import { SimDisk } from './disk.js'
import { bytesKey } from './identity.js'
import { snapshotEntries } from './snapshot-codec.js'

/** A Ready handed out and not yet advanced; a crash may fall between its phases. */
export interface ReadyInFlight {
  readonly ready: Ready
  /** Step 2 of the duties (the durable write) is done: synced to the disk. */
  persisted: boolean
}

/**
 * One replica as the harness sees it: a disk that outlives crashes, and (while up) a core,
 * the Ready in flight, and the application's state machine (the applied log itself).
 */
export class SimNode {
  readonly disk = new SimDisk()
  core: ConsensusCore | null = null
  /** Readys handed out and not yet advanced, oldest first; the unsynced ones are lost in a crash. */
  inFlight: ReadyInFlight[] = []
  /** `maxReadysInFlight` of the core's config. */
  maxReadysInFlight = 1
  /** While true, the disk syncs nothing (see `CoreCluster.setDiskStalled`); survives a crash. */
  diskStalled = false
  /** Applied entries of this incarnation; `appliedLog[i - 1]` is the entry at index i. */
  appliedLog: Entry[] = []
  /** Payload → index, for "has this node applied X". */
  appliedPayloads = new Map<string, number>()
  lastCompactIndex = 0
  snapshotsInstalled = 0
  /** Snapshot chunks delivered to this node (over every incarnation). */
  chunksReceived = 0
  restarts = 0

  constructor(
    readonly id: NodeId,
    /** The core's only source of randomness. */
    readonly random: Rng,
  ) {}

  get alive(): boolean {
    return this.core !== null
  }

  get appliedIndex(): number {
    return this.appliedLog.length
  }

  apply(entry: Entry): void {
    this.appliedLog.push(entry)
    if (entry.type === 'normal') this.appliedPayloads.set(bytesKey(entry.data), entry.index)
  }

  /** Replace the state machine with a snapshot's applied log (already validated). */
  restore(entries: readonly Entry[]): void {
    this.appliedLog = [...entries]
    this.appliedPayloads = new Map()
    for (const e of entries) if (e.type === 'normal') this.appliedPayloads.set(bytesKey(e.data), e.index)
    this.lastCompactIndex = entries.length
  }

  /** The process died: only the disk is left. */
  crash(): void {
    this.core = null
    this.inFlight = []
    this.appliedLog = []
    this.appliedPayloads = new Map()
  }

  /** A restarted application loads its state machine from the durable snapshot. Null if unreadable. */
  loadStateMachine(): boolean {
    const snapshot = this.disk.snapshot
    const entries = snapshot === null ? [] : snapshotEntries(snapshot.data)
    if (entries === null) return false
    this.restore(entries)
    return true
  }

  private describeInFlight(): string {
    if (this.inFlight.length === 0) return ''
    const synced = this.inFlight.filter((r) => r.persisted).length
    return ` (${this.inFlight.length} Readys in flight, ${synced} synced${this.diskStalled ? ', disk stalled' : ''})`
  }

  /** One line for failure messages: what the core says and what the disk holds. */
  describe(): string {
    const disk = this.disk
    const durable = `disk: term ${disk.hardState?.term ?? 0} vote ${disk.hardState?.vote ?? '-'} commit ${disk.hardState?.commit ?? 0} ` +
      `snapshot ${disk.snapshotIndex} last ${disk.indexes().at(-1) ?? disk.snapshotIndex}`
    if (this.core === null) return `${this.id} down; ${durable}`
    let s: Status
    try {
      s = this.core.status()
    } catch {
      return `${this.id} up (status() throws); ${durable}`
    }
    return `${this.id} ${s.role} term ${s.term} leader ${s.leader ?? '-'} commit ${s.commitIndex} last ${s.lastIndex} ` +
      `first ${s.firstIndex} applied ${this.appliedIndex}${this.describeInFlight()}; ${durable}`
  }
}

/** Whether persisting `r` writes anything. */
export function writesDisk(r: Ready): boolean {
  return r.hardState !== null || r.snapshot !== null || r.truncateFrom !== null || r.entries.length > 0
}

/** A short form of a Ready for the trace. */
export function summarizeReady(r: Ready): unknown {
  return {
    hs: r.hardState, snap: r.snapshot?.index ?? null, trunc: r.truncateFrom,
    entries: r.entries.length === 0 ? [] : [r.entries[0]?.index, r.entries[r.entries.length - 1]?.index],
    committed: r.committed.length,
  }
}
