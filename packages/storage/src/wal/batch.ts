/**
 * Turns one `WalBatch` (the persist part of a Ready) into records, in the order the Ready
 * contract fixes: snapshot marker, truncate, entries, hard state. The gateway: arguments are
 * checked here and refused with a typed error, never asserted on.
 */
import type { Entry, HardState } from '@kv/consensus'
import { StorageError } from '../errors.js'
import { WAL_MAX_RECORD_BYTES } from '../limits.js'
import { encodeRecord, type SnapshotMeta, type WalRecord } from './record.js'

/** What one `Wal.write` makes durable. Every field may be left out. */
export interface WalBatch {
  readonly hardState?: HardState | null
  /** Drop every entry with index >= this (before `entries` are written). */
  readonly truncateFrom?: number | null
  /** Each replaces whatever is at its index. Strictly increasing indexes. */
  readonly entries?: readonly Entry[]
  /** Entries with index <= `snapshotMeta.index` are covered by a snapshot. */
  readonly snapshotMeta?: SnapshotMeta | null
}

/** A batch as bytes, with what the WAL must remember of it once it is written. */
export interface EncodedBatch {
  readonly buffers: Buffer[]
  readonly bytes: number
  readonly hardState: HardState | null
  readonly snapshotMeta: SnapshotMeta | null
  /** Highest entry index written (0 for none). */
  readonly maxEntryIndex: number
  /** The log's next index after this batch, or null when the batch does not say. */
  readonly nextIndex: number | null
}

const ENTRY_OVERHEAD_BYTES = 32

const isIndex = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 1
const isUint = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0

function bad(message: string): never {
  throw new StorageError('BAD_ARGUMENT', message)
}

function checkBatch(batch: WalBatch): void {
  const { hardState, truncateFrom, entries = [], snapshotMeta } = batch
  if (hardState != null && (!isUint(hardState.term) || !isUint(hardState.commit))) bad('hardState: term and commit must be integers >= 0')
  if (hardState != null && hardState.vote !== null && typeof hardState.vote !== 'string') bad('hardState.vote must be a string or null')
  if (truncateFrom != null && !isIndex(truncateFrom)) bad(`truncateFrom must be an integer >= 1, got ${String(truncateFrom)}`)
  if (snapshotMeta != null && (!isUint(snapshotMeta.index) || !isUint(snapshotMeta.term))) bad('snapshotMeta: index and term must be integers >= 0')
  let prev = 0
  for (const e of entries) {
    if (!isIndex(e.index) || !isUint(e.term)) bad(`entry index must be >= 1 and term >= 0, got ${e.index}/${e.term}`)
    if (e.index <= prev) bad(`entry indexes must increase: ${e.index} after ${prev}`)
    if (e.type === 'normal' && !(e.data instanceof Uint8Array)) bad(`entry ${e.index}: data must be a Uint8Array`)
    prev = e.index
  }
}

/** Splits entries so that no record passes `WAL_MAX_RECORD_BYTES` (one huge entry still fails). */
function chunkEntries(entries: readonly Entry[]): Entry[][] {
  const chunks: Entry[][] = []
  let chunk: Entry[] = []
  let bytes = 0
  for (const e of entries) {
    const size = (e.type === 'normal' ? e.data.length : 0) + ENTRY_OVERHEAD_BYTES
    if (chunk.length > 0 && bytes + size > WAL_MAX_RECORD_BYTES / 2) {
      chunks.push(chunk)
      chunk = []
      bytes = 0
    }
    chunk.push(e)
    bytes += size
  }
  if (chunk.length > 0) chunks.push(chunk)
  return chunks
}

export function encodeBatch(batch: WalBatch): EncodedBatch {
  checkBatch(batch)
  const { hardState = null, truncateFrom = null, entries = [], snapshotMeta = null } = batch
  const records: WalRecord[] = []
  if (snapshotMeta !== null) records.push({ type: 'snapshotMarker', snapshot: { index: snapshotMeta.index, term: snapshotMeta.term } })
  if (truncateFrom !== null) records.push({ type: 'truncate', fromIndex: truncateFrom })
  for (const chunk of chunkEntries(entries)) records.push({ type: 'entries', entries: chunk })
  if (hardState !== null) records.push({ type: 'hardState', hardState: { term: hardState.term, vote: hardState.vote, commit: hardState.commit } })
  const buffers = records.map(encodeRecord)
  const last = entries[entries.length - 1]
  return {
    buffers,
    bytes: buffers.reduce((sum, b) => sum + b.length, 0),
    hardState: records.some((r) => r.type === 'hardState') ? hardState : null,
    snapshotMeta,
    maxEntryIndex: last?.index ?? 0,
    nextIndex: last !== undefined ? last.index + 1 : truncateFrom,
  }
}
