/**
 * A write-ahead log in a directory of segment files (etcd's layout). Durability of the
 * consensus log and hard state comes from here: `write` appends the records of one Ready and
 * resolves only after ONE fdatasync made them durable. Writes issued while a sync is in flight
 * are coalesced into the next single append + sync (group commit).
 *
 * Every new segment starts with the current snapshot marker and hard state, so any suffix of
 * segments replays to the same live state: whole older segments can be deleted (`releaseUpTo`).
 */
import path from 'node:path'
import type { HardState } from '@kv/consensus'
import { StorageError, WalCorruptError } from '../errors.js'
import { countingSyncs, ensureDir, writeAllAt } from '../fs/durable-io.js'
import type { FileHandle, FileSystem } from '../fs/file-system.js'
import { nodeFileSystem } from '../fs/node-fs.js'
import { WAL_MAX_GROUP_BYTES, WAL_MAX_PENDING_BYTES, WAL_MAX_SEGMENT_BYTES } from '../limits.js'
import { encodeBatch, type EncodedBatch, type WalBatch } from './batch.js'
import { LogImage, type WalState } from './log-image.js'
import { encodeRecord, type SnapshotMeta } from './record.js'
import { PREPARED_SEGMENT, listSegments, prepareSegment, scanSegment, segmentName, type SegmentInfo } from './segment.js'

export interface WalOptions {
  /** Roll to a new segment when an append would pass this size. Default 64 MiB. */
  readonly maxSegmentBytes?: number
  /** The file layer the segments live on. Default: the real disk (`nodeFileSystem`). */
  readonly fs?: FileSystem
}

/** A torn or corrupt tail found in the last segment at open, and cut off. */
export interface WalRecovery {
  readonly segment: string
  /** Offset in `segment` where the valid records end. */
  readonly offset: number
  /** Non-zero bytes discarded from `offset` on (trailing preallocated zeros not counted). */
  readonly truncatedBytes: number
  readonly reason: string
}

export interface WalOpenResult {
  readonly wal: Wal
  readonly state: WalState
  readonly recovery: WalRecovery | null
}

/** Counters for observing group commit. */
export interface WalStats {
  readonly writes: number
  /**
   * fdatasyncs of segment files that the file layer completed (one per group commit, and one at
   * open when a torn tail was zeroed). Counted by the handle, not beside the call.
   */
  readonly syncs: number
  readonly bytesWritten: number
  readonly segments: number
}

interface Segment extends SegmentInfo {
  /** Highest entry index written into this segment (0 for none): it may go once that is released. */
  maxEntryIndex: number
}

type Job =
  | { readonly kind: 'write'; readonly batch: EncodedBatch; resolve(): void; reject(e: unknown): void }
  | { readonly kind: 'control'; run(): Promise<unknown>; resolve(v: unknown): void; reject(e: unknown): void }

export class Wal {
  private readonly queue: Job[] = []
  private draining = false
  private pendingBytes = 0
  private failure: StorageError | null = null
  private closed = false
  /** Bytes at the start of the current segment that only repeat live state (no reason to roll). */
  private headerEnd = 0
  /** The next segment, zero-filled in the background; resolves to the error if that failed. */
  private prepared: Promise<Error | null>

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly maxSegmentBytes: number,
    /** `syncs` is counted by the segment handles (`countingSyncs`), never here. */
    private readonly counters: { writes: number; syncs: number; bytesWritten: number },
    private readonly segments: Segment[],
    private file: FileHandle,
    private offset: number,
    private hardState: HardState | null,
    private snapshotMeta: SnapshotMeta | null,
    private nextIndex: number,
  ) {
    this.prepared = this.prepareNext()
  }

  /**
   * Replays every segment. A torn tail of the last segment is cut off (zeroed) and reported;
   * anything wrong in an earlier segment throws `WalCorruptError`.
   */
  static async open(dir: string, options: WalOptions = {}): Promise<WalOpenResult> {
    const maxSegmentBytes = options.maxSegmentBytes ?? WAL_MAX_SEGMENT_BYTES
    if (!Number.isSafeInteger(maxSegmentBytes) || maxSegmentBytes < 4096) {
      throw new StorageError('BAD_ARGUMENT', `maxSegmentBytes must be an integer >= 4096, got ${maxSegmentBytes}`)
    }
    const fs = options.fs ?? nodeFileSystem
    await ensureDir(fs, dir)
    await fs.unlink(path.join(dir, PREPARED_SEGMENT), { missingOk: true })
    let infos = await listSegments(fs, dir)
    if (infos.length === 0) infos = [await installSegment(fs, dir, 1, 1, maxSegmentBytes)]
    const { image, segments, recovery, validEnd } = await replay(fs, dir, infos)
    const last = segments[segments.length - 1]!
    const counters = { writes: 0, syncs: 0, bytesWritten: 0 }
    const file = countingSyncs(await fs.open(path.join(dir, last.name), 'r+'), counters)
    if (recovery !== null) {
      // Zero the torn bytes so that nothing stale can ever parse after records appended later.
      await writeAllAt(file, [Buffer.alloc(recovery.truncatedBytes)], recovery.offset)
      await file.datasync()
    }
    const state = image.state()
    const lastEntry = state.entries[state.entries.length - 1]
    const nextIndex = lastEntry !== undefined ? lastEntry.index + 1 : (state.snapshotMeta?.index ?? 0) + 1
    const wal = new Wal(fs, dir, maxSegmentBytes, counters, segments, file, validEnd, state.hardState, state.snapshotMeta, nextIndex)
    return { wal, state, recovery }
  }

  /** Appends the records of one Ready; resolves once they are on disk (one shared fdatasync). */
  write(batch: WalBatch): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure)
    if (this.closed) return Promise.reject(new StorageError('WAL_CLOSED', 'WAL is closed'))
    let encoded: EncodedBatch
    try {
      encoded = encodeBatch(batch)
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)))
    }
    if (encoded.bytes === 0) return Promise.resolve()
    if (this.pendingBytes + encoded.bytes > WAL_MAX_PENDING_BYTES) {
      return Promise.reject(new StorageError('WAL_OVERLOADED', `WAL queue holds ${this.pendingBytes} bytes already`))
    }
    this.pendingBytes += encoded.bytes
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ kind: 'write', batch: encoded, resolve, reject })
      this.drain()
    })
  }

  /**
   * Deletes whole segments (oldest first, never the current one) whose every entry is <= `index`.
   * Call only with an index that a durable snapshot covers and the state store has durably
   * flushed. Returns how many segments were deleted.
   */
  releaseUpTo(index: number): Promise<number> {
    return this.control(async () => {
      if (this.snapshotMeta === null || index > this.snapshotMeta.index) {
        throw new StorageError('BAD_ARGUMENT', `releaseUpTo(${index}): no snapshot marker covers it`)
      }
      let removed = 0
      while (this.segments.length > 1 && this.segments[0]!.maxEntryIndex <= index) {
        const oldest = this.segments.shift()!
        await this.fs.unlink(path.join(this.dir, oldest.name))
        // One directory sync per unlink: a crash never leaves a gap in the sequence.
        await this.fs.syncDir(this.dir)
        removed++
      }
      return removed
    }) as Promise<number>
  }

  /** Waits for queued writes, then closes the files. Later writes reject with WAL_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true // refuse new work from here on
    if (this.failure === null) await this.enqueueControl(() => Promise.resolve())
    await this.file.close()
    await this.prepared
    await this.fs.unlink(path.join(this.dir, PREPARED_SEGMENT), { missingOk: true })
  }

  stats(): WalStats {
    return { ...this.counters, segments: this.segments.length }
  }

  /** Segment file names, oldest first. */
  segmentNames(): string[] {
    return this.segments.map((s) => s.name)
  }

  private control(run: () => Promise<unknown>): Promise<unknown> {
    if (this.failure !== null) return Promise.reject(this.failure)
    if (this.closed) return Promise.reject(new StorageError('WAL_CLOSED', 'WAL is closed'))
    return this.enqueueControl(run)
  }

  private enqueueControl(run: () => Promise<unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'control', run, resolve, reject })
      this.drain()
    })
  }

  private drain(): void {
    if (this.draining) return
    this.draining = true
    void this.drainLoop()
  }

  /** Never throws: every job's outcome goes to its own promise. */
  private async drainLoop(): Promise<void> {
    for (;;) {
      if (this.queue.length === 0 || this.failure !== null) {
        // Cleared in the same turn as the empty-queue check, before any resolved waiter resumes.
        this.draining = false
        return
      }
      const head = this.queue[0]!
      if (head.kind === 'control') {
        this.queue.shift()
        await head.run().then(
          (v) => head.resolve(v),
          (e: unknown) => head.reject(e),
        )
        continue
      }
      const group = this.takeWriteGroup()
      try {
        await this.appendAndSync(group.map((j) => j.batch))
      } catch (e) {
        this.fail(e, group)
        continue
      }
      this.counters.writes += group.length
      for (const job of group) job.resolve()
    }
  }

  /** Consecutive queued writes, up to WAL_MAX_GROUP_BYTES (always at least one). */
  private takeWriteGroup(): Array<Extract<Job, { kind: 'write' }>> {
    const group: Array<Extract<Job, { kind: 'write' }>> = []
    let bytes = 0
    for (let head = this.queue[0]; head?.kind === 'write'; head = this.queue[0]) {
      if (group.length > 0 && bytes + head.batch.bytes > WAL_MAX_GROUP_BYTES) break
      group.push(head)
      bytes += head.batch.bytes
      this.queue.shift()
    }
    this.pendingBytes -= bytes
    return group
  }

  /**
   * After a failed write or fdatasync nothing in the page cache can be trusted (fsyncgate):
   * the WAL refuses everything from now on; the process must restart and replay.
   */
  private fail(cause: unknown, group: ReadonlyArray<{ reject(e: unknown): void }>): void {
    this.failure = new StorageError('WAL_FAILED', `WAL write failed: ${String(cause)}`, { cause })
    for (const job of [...group, ...this.queue.splice(0)]) job.reject(this.failure)
    this.pendingBytes = 0
  }

  private async appendAndSync(batches: readonly EncodedBatch[]): Promise<void> {
    const buffers = batches.flatMap((b) => b.buffers)
    const bytes = batches.reduce((sum, b) => sum + b.bytes, 0)
    if (this.offset > this.headerEnd && this.offset + bytes > this.maxSegmentBytes) {
      buffers.unshift(...(await this.roll()))
    }
    await writeAllAt(this.file, buffers, this.offset)
    for (const b of buffers) this.offset += b.length
    // The group's one fdatasync; the handle counts it in stats().syncs once it has completed.
    await this.file.datasync()
    this.counters.bytesWritten += bytes
    const current = this.segments[this.segments.length - 1]!
    for (const b of batches) {
      if (b.snapshotMeta !== null && b.snapshotMeta.index >= (this.snapshotMeta?.index ?? 0)) this.snapshotMeta = b.snapshotMeta
      if (b.hardState !== null) this.hardState = b.hardState
      if (b.nextIndex !== null) this.nextIndex = b.nextIndex
      current.maxEntryIndex = Math.max(current.maxEntryIndex, b.maxEntryIndex)
    }
  }

  /** Renames the prepared segment in and returns the records that open it (the live state). */
  private async roll(): Promise<Buffer[]> {
    const prepareError = await this.prepared
    if (prepareError !== null) throw prepareError
    const seq = this.segments[this.segments.length - 1]!.seq + 1
    const name = segmentName(seq, this.nextIndex)
    await this.fs.rename(path.join(this.dir, PREPARED_SEGMENT), path.join(this.dir, name))
    await this.fs.syncDir(this.dir)
    await this.file.close()
    this.file = countingSyncs(await this.fs.open(path.join(this.dir, name), 'r+'), this.counters)
    this.segments.push({ seq, firstIndex: this.nextIndex, name, maxEntryIndex: 0 })
    this.offset = 0
    this.prepared = this.prepareNext()
    const header: Buffer[] = []
    if (this.snapshotMeta !== null) header.push(encodeRecord({ type: 'snapshotMarker', snapshot: this.snapshotMeta }))
    if (this.hardState !== null) header.push(encodeRecord({ type: 'hardState', hardState: this.hardState }))
    this.headerEnd = header.reduce((sum, b) => sum + b.length, 0)
    return header
  }

  private prepareNext(): Promise<Error | null> {
    return prepareSegment(this.fs, this.dir, this.maxSegmentBytes).then(
      () => null,
      (e: unknown) => (e instanceof Error ? e : new Error('preallocating the next WAL segment failed', { cause: e })),
    )
  }
}

/** Renames a freshly zero-filled file in as segment `seq` (used for the very first one). */
async function installSegment(fs: FileSystem, dir: string, seq: number, firstIndex: number, bytes: number): Promise<SegmentInfo> {
  await prepareSegment(fs, dir, bytes)
  const name = segmentName(seq, firstIndex)
  await fs.rename(path.join(dir, PREPARED_SEGMENT), path.join(dir, name))
  await fs.syncDir(dir)
  return { seq, firstIndex, name }
}

async function replay(fs: FileSystem, dir: string, infos: readonly SegmentInfo[]) {
  const image = new LogImage()
  const segments: Segment[] = []
  let recovery: WalRecovery | null = null
  let validEnd = 0
  for (const [i, info] of infos.entries()) {
    const scan = scanSegment(info.name, await fs.readFile(path.join(dir, info.name)))
    if (scan.torn !== null) {
      // Only the last segment can hold a write that never finished; elsewhere it is corruption.
      if (i < infos.length - 1) throw new WalCorruptError(info.name, scan.torn.offset, scan.torn.reason)
      const { offset, garbageBytes, reason } = scan.torn
      recovery = { segment: info.name, offset, truncatedBytes: garbageBytes, reason }
    }
    let maxEntryIndex = 0
    for (const record of scan.records) {
      image.apply(record)
      if (record.type !== 'entries') continue
      for (const e of record.entries) maxEntryIndex = Math.max(maxEntryIndex, e.index)
    }
    segments.push({ ...info, maxEntryIndex })
    validEnd = scan.validEnd
  }
  return { image, segments, recovery, validEnd }
}
