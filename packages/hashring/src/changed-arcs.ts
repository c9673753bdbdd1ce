import type { ArcMove } from './arc.js'
import type { HashRing } from './ring.js'

interface MutableMove {
  start: number
  end: number
  readonly from: string
  readonly to: string
}

/**
 * The arcs of the circle whose owner differs between `from` and `to`: what a migration from one
 * shard map to the next must move. Minimal: a hash whose owner changes lies in exactly one
 * move, with that move's `from` and `to` its owners in the two rings; a hash whose owner stays
 * lies in none; adjacent moves never share both `from` and `to` (they are merged, across 0
 * too). Sorted by end; the first may wrap through 0; one move with `start === end` is the
 * whole circle. O(arcs of both rings).
 */
export function changedArcs(from: HashRing, to: HashRing): ArcMove[] {
  const a = from.arcs()
  const b = to.arcs()
  // The ends of both rings cut the circle into segments on which neither owner changes; the
  // owner of a segment in a ring is the owner of the ring's first arc ending at or after it.
  const segmentEnds: number[] = []
  const segmentFrom: string[] = []
  const segmentTo: string[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    const endA = i < a.length ? a[i]!.end : Infinity
    const endB = j < b.length ? b[j]!.end : Infinity
    const end = Math.min(endA, endB)
    segmentEnds.push(end)
    segmentFrom.push(a[i < a.length ? i : 0]!.group)
    segmentTo.push(b[j < b.length ? j : 0]!.group)
    if (endA === end) i++
    if (endB === end) j++
  }
  const m = segmentEnds.length
  const moves: MutableMove[] = []
  for (let k = 0; k < m; k++) {
    const owner = segmentFrom[k]!
    const next = segmentTo[k]!
    if (owner === next) continue
    const start = segmentEnds[k === 0 ? m - 1 : k - 1]!
    const end = segmentEnds[k]!
    const last = moves[moves.length - 1]
    if (last !== undefined && last.end === start && last.from === owner && last.to === next) last.end = end
    else moves.push({ start, end, from: owner, to: next })
  }
  // A move ending at the last segment and one starting at the first are adjacent across 0.
  const first = moves[0]
  const last = moves[moves.length - 1]
  if (first !== undefined && last !== undefined && first !== last && last.end === first.start && last.from === first.from && last.to === first.to) {
    first.start = last.start
    moves.pop()
  }
  return moves
}
