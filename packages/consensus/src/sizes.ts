import type { CoreConfig, Entry } from './types.js'

/**
 * How the cores count bytes when they bound a message or a Ready. An entry costs its data
 * plus a fixed allowance for its other fields as MessagePack writes them (type, index, term,
 * the binary header, the keys when records are off): a generous upper bound, so that a
 * message's real encoded size stays below the sum of its entries' costs plus a small header.
 */
export const ENTRY_OVERHEAD_BYTES = 64

/** What `entry` costs in a message or a Ready (see `ENTRY_OVERHEAD_BYTES`). */
export function entryBytes(entry: Entry): number {
  switch (entry.type) {
    case 'normal':
      return ENTRY_OVERHEAD_BYTES + entry.data.length
    case 'noop':
      return ENTRY_OVERHEAD_BYTES
    case 'membership': {
      // The ids of the membership (voters, learners, roster) and the change's context.
      const m = entry.membership
      const ids = [...m.voters, ...m.learners, ...m.roster, entry.change.id]
      return ENTRY_OVERHEAD_BYTES + entry.change.context.length + ids.reduce((n, id) => n + 8 + id.length * 3, 0)
    }
  }
}

/**
 * The longest prefix of `entries` whose total cost is at most `maxBytes`, but never empty
 * when `entries` is not (etcd-io/raft's `limitSize`): an entry larger than the bound still
 * travels, alone, or nothing would ever move past it.
 */
export function takeWithinBytes<E extends Entry>(entries: readonly E[], maxBytes: number): E[] {
  let total = 0
  let count = 0
  for (const e of entries) {
    total += entryBytes(e)
    if (count > 0 && total > maxBytes) break
    count++
  }
  return count === entries.length ? [...entries] : entries.slice(0, count)
}

/** The byte bounds (and the Ready pipeline's depth) of a core's config that `o` sets (the others keep the core's defaults). */
export type ByteBounds = Partial<Pick<CoreConfig, 'maxBytesPerMessage' | 'maxSnapshotChunkBytes' | 'maxPersistBytesPerReady' | 'maxApplyBytesPerReady' | 'maxReadysInFlight'>>

export function byteBounds(o: ByteBounds): ByteBounds {
  const bounds: { -readonly [K in keyof ByteBounds]: ByteBounds[K] } = {}
  if (o.maxBytesPerMessage !== undefined) bounds.maxBytesPerMessage = o.maxBytesPerMessage
  if (o.maxSnapshotChunkBytes !== undefined) bounds.maxSnapshotChunkBytes = o.maxSnapshotChunkBytes
  if (o.maxPersistBytesPerReady !== undefined) bounds.maxPersistBytesPerReady = o.maxPersistBytesPerReady
  if (o.maxApplyBytesPerReady !== undefined) bounds.maxApplyBytesPerReady = o.maxApplyBytesPerReady
  if (o.maxReadysInFlight !== undefined) bounds.maxReadysInFlight = o.maxReadysInFlight
  return bounds
}
