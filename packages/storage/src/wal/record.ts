/**
 * The WAL record format, byte for byte:
 *
 *   offset 0  u8      type      1 entries | 2 truncate | 3 hardState | 4 snapshotMarker (never 0)
 *   offset 1  u32 LE  length    payload bytes
 *   offset 5  u32 LE  crc       CRC-32 (zlib, IEEE) over bytes [0, 5) then the payload
 *   offset 9  payload           MessagePack (msgpackr), shape fixed per type (see `encodePayload`)
 *
 * The type byte is never zero, so any written prefix of a record differs from the zeros a
 * segment is preallocated with: a torn record is always seen, never mistaken for a clean end.
 */
import { crc32 } from 'node:zlib'
import { Packr } from 'msgpackr'
import { isMembershipEntryBody, type Entry, type HardState, type Membership, type MembershipChange } from '@kv/consensus'
import { StorageError } from '../errors.js'
import { WAL_MAX_RECORD_BYTES } from '../limits.js'

export const RECORD_HEADER_BYTES = 9

/** `{ index, term }` of a snapshot: entries with index <= `index` are covered by it. */
export interface SnapshotMeta {
  readonly index: number
  readonly term: number
}

export type WalRecord =
  | { readonly type: 'entries'; readonly entries: readonly Entry[] }
  | { readonly type: 'truncate'; readonly fromIndex: number }
  | { readonly type: 'hardState'; readonly hardState: HardState }
  | { readonly type: 'snapshotMarker'; readonly snapshot: SnapshotMeta }

const TYPE_CODES = { entries: 1, truncate: 2, hardState: 3, snapshotMarker: 4 } as const

// Plain MessagePack (no shared record structures): a record must decode on its own, forever.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true })

type EntryTuple = [index: number, term: number, data: Uint8Array | null]
type MembershipTuple = [index: number, term: number, data: null, body: { change: MembershipChange; membership: Membership }]

function encodePayload(record: WalRecord): unknown {
  switch (record.type) {
    case 'entries':
      // A noop carries null, a normal entry its bytes (possibly empty): the two stay distinct.
      // A membership entry carries null and, fourth, its change and membership.
      return record.entries.map((e): EntryTuple | MembershipTuple =>
        e.type === 'membership'
          ? [e.index, e.term, null, { change: e.change, membership: e.membership }]
          : [e.index, e.term, e.type === 'normal' ? e.data : null])
    case 'truncate':
      return record.fromIndex
    case 'hardState':
      return [record.hardState.term, record.hardState.vote, record.hardState.commit]
    case 'snapshotMarker':
      return [record.snapshot.index, record.snapshot.term]
  }
}

/** One record as bytes, header included. */
export function encodeRecord(record: WalRecord): Buffer {
  const payload = packr.pack(encodePayload(record))
  const total = RECORD_HEADER_BYTES + payload.length
  if (total > WAL_MAX_RECORD_BYTES) {
    throw new StorageError('RECORD_TOO_LARGE', `WAL record of ${total} bytes exceeds ${WAL_MAX_RECORD_BYTES}`)
  }
  const out = Buffer.allocUnsafe(total)
  out.writeUInt8(TYPE_CODES[record.type], 0)
  out.writeUInt32LE(payload.length, 1)
  payload.copy(out, RECORD_HEADER_BYTES)
  out.writeUInt32LE(recordChecksum(out, payload.length), 5)
  return out
}

/** The checksum of the record starting at `buf[0]` whose payload is `payloadLength` bytes. */
export function recordChecksum(buf: Buffer, payloadLength: number, at = 0): number {
  const head = crc32(buf.subarray(at, at + 5))
  const start = at + RECORD_HEADER_BYTES
  return crc32(buf.subarray(start, start + payloadLength), head)
}

const isUint = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0

/**
 * Turns a checksummed payload back into a record; `null` when its shape is wrong (the caller
 * reports that as corruption: a record with a valid checksum was written that way).
 */
export function decodePayload(typeCode: number, payload: Buffer): WalRecord | null {
  let value: unknown
  try {
    value = packr.unpack(payload)
  } catch {
    return null
  }
  switch (typeCode) {
    case TYPE_CODES.entries:
      return decodeEntries(value)
    case TYPE_CODES.truncate:
      return isUint(value) ? { type: 'truncate', fromIndex: value } : null
    case TYPE_CODES.hardState: {
      if (!Array.isArray(value) || value.length !== 3) return null
      const [term, vote, commit] = value as unknown[]
      if (!isUint(term) || !isUint(commit) || (vote !== null && typeof vote !== 'string')) return null
      return { type: 'hardState', hardState: { term, vote, commit } }
    }
    case TYPE_CODES.snapshotMarker: {
      if (!Array.isArray(value) || value.length !== 2) return null
      const [index, term] = value as unknown[]
      return isUint(index) && isUint(term) ? { type: 'snapshotMarker', snapshot: { index, term } } : null
    }
    default:
      return null
  }
}

function decodeEntries(value: unknown): WalRecord | null {
  if (!Array.isArray(value)) return null
  const entries: Entry[] = []
  for (const item of value as unknown[]) {
    if (!Array.isArray(item) || (item.length !== 3 && item.length !== 4)) return null
    const [index, term, data, body] = item as unknown[]
    if (!isUint(index) || index < 1 || !isUint(term)) return null
    if (item.length === 4) {
      const m = body as Record<string, unknown> | null
      if (data !== null || typeof m !== 'object' || m === null || !isMembershipEntryBody(m)) return null
      entries.push({ type: 'membership', index, term, change: copyChange(m['change'] as MembershipChange), membership: m['membership'] as Membership })
    } else if (data === null) entries.push({ type: 'noop', index, term })
    // Copy: a view would pin the whole segment buffer read at recovery.
    else if (data instanceof Uint8Array) entries.push({ type: 'normal', index, term, data: new Uint8Array(data) })
    else return null
  }
  return { type: 'entries', entries }
}

/** A decoded change's context as its own bytes (a view would pin the segment buffer). */
function copyChange(change: MembershipChange): MembershipChange {
  return { type: change.type, id: change.id, context: new Uint8Array(change.context) }
}
