/**
 * Revisions of watch events (see the root README, "Watch"). A revision is the pair
 * `[epoch, index]`: `index` is the log index of the entry that applied the change in its group,
 * `epoch` the shard-map epoch the group had applied when it applied that entry (0 for a group
 * without a shard map). Compared lexicographically. Within a group both parts only grow along the
 * log; a key that moves from group A to group B at epoch e was frozen at A when A applied map e,
 * so every A-event of it is below `[e, 0]` and every B-event at or above it: per key, revisions
 * strictly increase across migrations. Several events may share one revision (the writes of one
 * log entry: a batch, or writes folded into one entry by group commit); they are always handed
 * out together, in log order.
 *
 * On the wire a revision is a two-element array; users see the string `"<epoch>.<index>"`.
 */
export type WireRevision = readonly [epoch: number, index: number]

const MAX = Number.MAX_SAFE_INTEGER

export function isWireRevision(x: unknown): x is WireRevision {
  return (
    Array.isArray(x) &&
    x.length === 2 &&
    x.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= MAX)
  )
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareRevisions(a: WireRevision, b: WireRevision): number {
  return a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] === b[1] ? 0 : a[1] < b[1] ? -1 : 1
}

export function maxRevision(a: WireRevision, b: WireRevision): WireRevision {
  return compareRevisions(a, b) >= 0 ? a : b
}

export function minRevision(a: WireRevision, b: WireRevision): WireRevision {
  return compareRevisions(a, b) <= 0 ? a : b
}

export function formatRevision(r: WireRevision): string {
  return `${r[0]}.${r[1]}`
}

/** `"<epoch>.<index>"` → the revision, or null when the text is not one. */
export function parseRevision(text: string): WireRevision | null {
  const m = /^(\d{1,16})\.(\d{1,16})$/.exec(text)
  if (m === null) return null
  const r = [Number(m[1]), Number(m[2])] as const
  return isWireRevision(r) ? r : null
}
