/**
 * Named bounds of the storage package, with units. Relations between them are checked when
 * this module loads (see the bottom), so a bad edit fails at start, not under load.
 */

/** A WAL segment rolls once the next append would take it past this size. */
export const WAL_MAX_SEGMENT_BYTES = 64 * 1024 * 1024

/** One WAL record (header + payload) at most; an `entries` batch larger than this is split. */
export const WAL_MAX_RECORD_BYTES = 16 * 1024 * 1024

/**
 * Bytes waiting in the group-commit queue at most. Policy when full: `write` rejects at once
 * with `StorageError('WAL_OVERLOADED')`; nothing is dropped silently.
 */
export const WAL_MAX_PENDING_BYTES = 256 * 1024 * 1024

/** One append + fdatasync carries at most this many bytes; the rest waits for the next sync. */
export const WAL_MAX_GROUP_BYTES = 32 * 1024 * 1024

/** Zeros are written in chunks of this size when a new segment is preallocated. */
export const WAL_PREALLOC_CHUNK_BYTES = 1024 * 1024

/** Named tables in the state store at most (LMDB's maxDbs, plus the internal one). */
export const STATE_MAX_TABLES = 32

/** A state-store key's UTF-8 length at most (LMDB refuses keys above ~1978 bytes). */
export const STATE_MAX_KEY_BYTES = 1024

/** A table name's length at most, in characters. */
export const STATE_MAX_TABLE_NAME_CHARS = 64

/** A snapshot's data at most (it is read into one Buffer). */
export const SNAPSHOT_MAX_BYTES = 1024 * 1024 * 1024

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`storage limits: ${what}`)
}

check(WAL_MAX_RECORD_BYTES <= WAL_MAX_SEGMENT_BYTES, 'a record must fit in a segment')
check(WAL_MAX_RECORD_BYTES <= WAL_MAX_GROUP_BYTES, 'a record must fit in one group commit')
check(WAL_MAX_GROUP_BYTES <= WAL_MAX_PENDING_BYTES, 'a group must fit in the pending queue')
check(WAL_PREALLOC_CHUNK_BYTES <= WAL_MAX_SEGMENT_BYTES, 'a preallocation chunk must fit in a segment')
check(STATE_MAX_KEY_BYTES < 1978, 'LMDB keys are at most 1978 bytes')
