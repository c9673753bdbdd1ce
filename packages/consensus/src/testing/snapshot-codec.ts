import { isMembership, isMembershipChange } from '../membership.js'
import type { Entry } from '../types.js'

/**
 * The harness's "state machine" is the applied log itself, so a snapshot's data is the whole
 * applied sequence: a node restored from it can still be checked entry by entry.
 *
 * Layout (little endian): "KVS1", u32 count, then per entry: u32 index, u8 kind
 * (0 normal, 1 noop, 2 membership), f64 term, u32 length, bytes (a membership entry's bytes
 * are the JSON of its change, context as an array, and membership).
 */
const MAGIC = [0x4b, 0x56, 0x53, 0x31] as const
const HEADER_BYTES = 8
const ENTRY_HEAD_BYTES = 4 + 1 + 8 + 4

const KIND = { normal: 0, noop: 1, membership: 2 } as const

function payload(e: Entry): Uint8Array {
  if (e.type === 'normal') return e.data
  if (e.type === 'noop') return new Uint8Array(0)
  const change = { type: e.change.type, id: e.change.id, context: [...e.change.context] }
  return new TextEncoder().encode(JSON.stringify({ change, membership: e.membership }))
}

function membershipEntry(index: number, term: number, bytes: Uint8Array): Entry | null {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as { change: { type: unknown; id: unknown; context: number[] }; membership: unknown }
    const change = { ...parsed.change, context: Uint8Array.from(parsed.change.context) }
    if (!isMembershipChange(change) || !isMembership(parsed.membership)) return null
    return { type: 'membership', index, term, change, membership: parsed.membership }
  } catch {
    return null
  }
}

export function encodeAppliedLog(entries: readonly Entry[]): Uint8Array {
  const payloads = entries.map(payload)
  let size = HEADER_BYTES
  for (const p of payloads) size += ENTRY_HEAD_BYTES + p.length
  const bytes = new Uint8Array(size)
  const view = new DataView(bytes.buffer)
  bytes.set(MAGIC, 0)
  view.setUint32(4, entries.length, true)
  let at = HEADER_BYTES
  entries.forEach((e, i) => {
    view.setUint32(at, e.index, true)
    view.setUint8(at + 4, KIND[e.type])
    view.setFloat64(at + 5, e.term, true)
    const data = payloads[i]!
    view.setUint32(at + 13, data.length, true)
    bytes.set(data, at + ENTRY_HEAD_BYTES)
    at += ENTRY_HEAD_BYTES + data.length
  })
  return bytes
}

/** The entries encoded in `data`, or null if the bytes are not a harness snapshot. */
export function decodeAppliedLog(data: Uint8Array): Entry[] | null {
  if (data.length < HEADER_BYTES || MAGIC.some((b, i) => data[i] !== b)) return null
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const count = view.getUint32(4, true)
  const entries: Entry[] = []
  let at = HEADER_BYTES
  for (let n = 0; n < count; n++) {
    if (at + ENTRY_HEAD_BYTES > data.length) return null
    const index = view.getUint32(at, true)
    const kind = view.getUint8(at + 4)
    const term = view.getFloat64(at + 5, true)
    const length = view.getUint32(at + 13, true)
    const start = at + ENTRY_HEAD_BYTES
    if (start + length > data.length || kind > 2) return null
    if (kind === KIND.membership) {
      const entry = membershipEntry(index, term, data.subarray(start, start + length))
      if (entry === null) return null
      entries.push(entry)
    } else {
      entries.push(
        kind === KIND.normal
          ? { type: 'normal', index, term, data: data.slice(start, start + length) }
          : { type: 'noop', index, term },
      )
    }
    at = start + length
  }
  return at === data.length ? entries : null
}

const decoded = new WeakMap<Uint8Array, Entry[] | null>()

/** `decodeAppliedLog`, remembered per byte array (checkers look into the same snapshot often). */
export function snapshotEntries(data: Uint8Array): Entry[] | null {
  let entries = decoded.get(data)
  if (entries === undefined) {
    entries = decodeAppliedLog(data)
    decoded.set(data, entries)
  }
  return entries
}
