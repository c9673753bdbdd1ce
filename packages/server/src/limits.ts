/** Named bounds of the replica logic. Units are in the names. */
export interface ReplicaLimits {
  /** Most client writes folded into one log entry. */
  readonly maxCommandsPerEntry: number
  /**
   * Group commit: most proposal batches (Readys carrying entries) being written at once;
   * writes arriving meanwhile gather into the next entry, proposed when a write completes
   * (or when the entry is full).
   */
  readonly maxBatchesWriting: number
  /**
   * Bytes of entries (`entryBytes`) handed out to be written and not yet written, past which
   * no new Ready is taken until writes complete (one Ready always goes): with several Readys
   * in flight, this keeps the storage layer's queue bounded (the WAL refuses writes past
   * 256 MiB queued, and a Ready carries at most 64 MiB of entries by default).
   */
  readonly maxWriteBytesInFlight: number
  /** Most client requests waiting for an answer on one replica; past it, new ones get UNAVAILABLE. */
  readonly maxPendingRequests: number
  /**
   * Most reads held for a later apply (watch polls with nothing new yet), part of the pending
   * requests; past it, a read that would be held gets UNAVAILABLE (the client backs off).
   */
  readonly maxHeldReads: number
  /** Take a snapshot (and compact the log) after this many applied entries; 0 = never. */
  readonly snapshotEveryEntries: number
  /** A session with no write for this long (by log time) is forgotten. */
  readonly sessionTtlMs: number
  /** Most unacknowledged answers kept per session; past it, the oldest are dropped. */
  readonly maxResultsPerSession: number
  /**
   * A shard group's change history (for watches) keeps the events of its last log entries up to
   * this many events; older entries are dropped whole, and a watch from before them gets COMPACTED.
   */
  readonly maxHistoryEvents: number
  /** ... and up to about this many bytes of keys and values. */
  readonly maxHistoryBytes: number
  /** A scan or watch answer stops adding keys or log entries past this many bytes (and says `more`). */
  readonly maxReadAnswerBytes: number
}

export const defaultReplicaLimits: ReplicaLimits = {
  maxCommandsPerEntry: 512,
  maxBatchesWriting: 1,
  maxWriteBytesInFlight: 64 * 1024 * 1024,
  maxPendingRequests: 20_000,
  maxHeldReads: 10_000,
  snapshotEveryEntries: 10_000,
  sessionTtlMs: 10 * 60_000,
  maxResultsPerSession: 4096,
  maxHistoryEvents: 10_000,
  maxHistoryBytes: 16 * 1024 * 1024,
  maxReadAnswerBytes: 4 * 1024 * 1024,
}

export function checkReplicaLimits(l: ReplicaLimits): void {
  const bad = (what: string) => {
    throw new RangeError(`replica limits: ${what}`)
  }
  if (!(l.maxCommandsPerEntry >= 1)) bad('maxCommandsPerEntry must be ≥ 1')
  if (!(l.maxBatchesWriting >= 1)) bad('maxBatchesWriting must be ≥ 1')
  if (!(l.maxWriteBytesInFlight >= 1)) bad('maxWriteBytesInFlight must be ≥ 1')
  if (!(l.maxPendingRequests >= l.maxCommandsPerEntry)) bad('maxPendingRequests must be ≥ maxCommandsPerEntry')
  if (!(l.maxHeldReads >= 0 && l.maxHeldReads <= l.maxPendingRequests)) bad('maxHeldReads must be in [0, maxPendingRequests]')
  if (!(l.snapshotEveryEntries >= 0)) bad('snapshotEveryEntries must be ≥ 0')
  if (!(l.sessionTtlMs > 0)) bad('sessionTtlMs must be > 0')
  if (!(l.maxResultsPerSession >= 1)) bad('maxResultsPerSession must be ≥ 1')
  if (!(l.maxHistoryEvents >= 0 && l.maxHistoryBytes >= 0)) bad('maxHistoryEvents and maxHistoryBytes must be ≥ 0')
  // An answer is a frame of the transport (16 MiB): a scan page or a watch answer must fit in one.
  if (!(l.maxReadAnswerBytes >= 1024 && l.maxReadAnswerBytes <= 8 * 1024 * 1024)) bad('maxReadAnswerBytes must be in [1 KiB, 8 MiB]')
}
