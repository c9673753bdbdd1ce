/**
 * WAL segment files: names, listing, preallocation and the scan that recovery runs.
 *
 * A segment is `<seq:16 hex>-<firstIndex:16 hex>.log`. `seq` orders segments (1, 2, 3, ... with no
 * gaps); `firstIndex` is the log's next index when the segment was started (informational:
 * truncation may later write lower indexes into it). Segments are preallocated with zeros, so an
 * fdatasync after an append flushes data blocks only, not a changed file size.
 */
import path from 'node:path'
import { WalCorruptError } from '../errors.js'
import { writeAllAt } from '../fs/durable-io.js'
import type { FileSystem } from '../fs/file-system.js'
import { WAL_MAX_RECORD_BYTES, WAL_PREALLOC_CHUNK_BYTES } from '../limits.js'
import { RECORD_HEADER_BYTES, decodePayload, recordChecksum, type WalRecord } from './record.js'

const SEGMENT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.log$/
export const PREPARED_SEGMENT = 'next.tmp'

export interface SegmentInfo {
  readonly seq: number
  readonly firstIndex: number
  readonly name: string
}

export function segmentName(seq: number, firstIndex: number): string {
  return `${seq.toString(16).padStart(16, '0')}-${firstIndex.toString(16).padStart(16, '0')}.log`
}

/** The segments in `dir`, in `seq` order; a gap in the sequence is corruption (a lost file). */
export async function listSegments(fs: FileSystem, dir: string): Promise<SegmentInfo[]> {
  const segments: SegmentInfo[] = []
  for (const name of await fs.readdir(dir)) {
    const m = SEGMENT_NAME.exec(name)
    if (m?.[1] === undefined || m[2] === undefined) continue
    segments.push({ seq: parseInt(m[1], 16), firstIndex: parseInt(m[2], 16), name })
  }
  segments.sort((a, b) => a.seq - b.seq)
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1]!
    const cur = segments[i]!
    if (cur.seq !== prev.seq + 1) throw new WalCorruptError(cur.name, 0, `segment ${prev.seq + 1} is missing`)
  }
  return segments
}

/** Creates `PREPARED_SEGMENT` in `dir` filled with `bytes` zeros and synced, ready to be renamed in. */
export async function prepareSegment(fs: FileSystem, dir: string, bytes: number): Promise<void> {
  const file = path.join(dir, PREPARED_SEGMENT)
  const handle = await fs.open(file, 'w')
  try {
    const zeros = Buffer.alloc(Math.min(WAL_PREALLOC_CHUNK_BYTES, bytes))
    for (let at = 0; at < bytes; at += zeros.length) {
      await writeAllAt(handle, [zeros.subarray(0, Math.min(zeros.length, bytes - at))], at)
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export interface TornTail {
  /** Offset of the first byte that is not part of a valid record. */
  readonly offset: number
  /** Non-zero bytes from `offset` on (the torn record and anything after it). */
  readonly garbageBytes: number
  readonly reason: string
}

export interface SegmentScan {
  readonly records: WalRecord[]
  /** Where the valid records end: the next append goes here. */
  readonly validEnd: number
  /** Set when something other than zeros follows the valid records. */
  readonly torn: TornTail | null
}

/**
 * Parses every record of a segment's bytes. Stops at the first record that is partial, too long
 * or fails its checksum, and reports what follows. A checksummed record that does not decode is
 * thrown as corruption at once: no torn write produces that.
 */
export function scanSegment(name: string, buf: Buffer): SegmentScan {
  const records: WalRecord[] = []
  let at = 0
  for (;;) {
    const problem = recordProblem(buf, at)
    if (problem === 'end') return { records, validEnd: at, torn: null }
    if (problem !== null) return { records, validEnd: at, torn: tornTail(buf, at, problem) }
    const length = buf.readUInt32LE(at + 1)
    const start = at + RECORD_HEADER_BYTES
    const record = decodePayload(buf.readUInt8(at), buf.subarray(start, start + length))
    if (record === null) throw new WalCorruptError(name, at, 'record passes its checksum but does not decode')
    records.push(record)
    at = start + length
  }
}

/** `null` if a whole valid record starts at `at`; 'end' if only zeros follow; else the reason. */
function recordProblem(buf: Buffer, at: number): string | null {
  if (at >= buf.length) return 'end'
  if (buf[at] === 0) return allZero(buf, at) ? 'end' : 'zero type byte followed by data'
  if (buf.length - at < RECORD_HEADER_BYTES) return 'partial record header'
  const length = buf.readUInt32LE(at + 1)
  if (RECORD_HEADER_BYTES + length > WAL_MAX_RECORD_BYTES) return `record length ${length} out of bounds`
  if (at + RECORD_HEADER_BYTES + length > buf.length) return 'partial record'
  if (recordChecksum(buf, length, at) !== buf.readUInt32LE(at + 5)) return 'checksum mismatch'
  return null
}

function allZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false
  return true
}

function tornTail(buf: Buffer, offset: number, reason: string): TornTail {
  let end = buf.length
  while (end > offset && buf[end - 1] === 0) end--
  return { offset, garbageBytes: end - offset, reason }
}
