/**
 * Arcs of the circle of 2^32 hashes. An arc `{ start, end }` holds the hashes in the half-open
 * range (start, end] going clockwise (upwards, wrapping from 2^32 - 1 to 0): its end is a ring
 * point, and a key whose hash is exactly a point belongs to the arc that point ends. An arc
 * with `start > end` wraps through 0; an arc with `start === end` is the whole circle (a ring
 * with one group has that one arc).
 */
export interface ArcRange {
  /** Exclusive: the end of the arc before this one. */
  readonly start: number
  /** Inclusive: the ring point that ends this arc. */
  readonly end: number
}

/** An arc and the group that owns every hash in it. */
export interface Arc extends ArcRange {
  readonly group: string
}

/** An arc whose owner differs between two rings, from `changedArcs(from, to)`. */
export interface ArcMove extends ArcRange {
  /** Its owner in the `from` ring. */
  readonly from: string
  /** Its owner in the `to` ring. */
  readonly to: string
}

/** The number of hashes on the circle: 2^32. */
export const RING_SIZE = 0x1_0000_0000

/** Whether `hash` lies in (arc.start, arc.end] on the circle, wrap-around included. */
export function arcContains(arc: ArcRange, hash: number): boolean {
  const { start, end } = arc
  if (start === end) return true
  if (start < end) return hash > start && hash <= end
  return hash > start || hash <= end
}

/** The number of hashes in the arc, 1..2^32 (2^32 for the whole circle). */
export function arcLength(arc: ArcRange): number {
  const length = arc.end - arc.start
  return length > 0 ? length : length + RING_SIZE
}
