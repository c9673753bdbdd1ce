import { maxMemoizedPendingAppends, maxPendingMatchSteps } from './limits.js'
import type { ValueTable } from './values.js'

/**
 * Appends commute until observed. Between two ops that observe a key, the order of the
 * appends to it is invisible, so the model keeps a key as (observed value, SET of appends
 * since): all orders of the same appends are one state, one cache entry, and a run of k
 * overlapping appends costs at most 2^k configurations instead of k!. An op that observes
 * the value (a get) is legal when it reads the observed value followed by the pending
 * appends' values, each exactly once, in an order that respects real time among them; a
 * put, a batchPut or a delete replaces the value without observing the order; presence
 * (a delete's `existed`) does not depend on the order.
 *
 * Sound (a linearization under set semantics gives a real one): a sequence respects real
 * time iff each op can be given a point inside its interval, nondecreasing along the
 * sequence (take the running maximum of the calls). Take a segment of key k: the appends
 * between two consecutive ops L and U on k; only L and U bound them among k's ops. Give
 * the appends, in the order U revealed, the points u_i = max(u_{i-1}, call_i, point(L)).
 * Each u_i is at most return_i and point(U): it is point(L), a call_i, or an earlier
 * call_j, and call_j <= return_i is what the precedence check asked. Sorting all ops by
 * point (ties: the old order, the segment's appends in the revealed order) respects real
 * time, keeps every other key's ops in their order, and gives U the value it read.
 * Complete: in any real linearization, a read sees its key's appends since the last
 * observation in an order that respects real time, so the set-semantics step is legal.
 */
export class PendingAppends {
  private readonly used: Uint8Array
  private readonly cursor: Int32Array
  private readonly positions: Int32Array
  private failed: Set<number> | null = null
  /** Set when a match ran out of steps: its 'no' is a guess, so the search cannot say illegal. */
  gaveUp = false

  /**
   * @param valueOfOp an append's value id, by op
   * @param callOfOp, returnOfOp by op; an unknown answer returns at Infinity
   */
  constructor(
    private readonly values: ValueTable,
    private readonly valueOfOp: Int32Array,
    private readonly callOfOp: Float64Array,
    private readonly returnOfOp: Float64Array,
  ) {
    const n = valueOfOp.length
    this.used = new Uint8Array(n)
    this.cursor = new Int32Array(n + 1)
    this.positions = new Int32Array(n + 1)
  }

  /**
   * Whether the text of value `read` is the text of `observed` (a value id, or ABSENT for
   * '') followed by the values of exactly the `pending` appends, in an order where an
   * append that returned before another was called comes first.
   */
  matches(observed: number, read: number, pending: readonly number[]): boolean {
    const text = this.values.text(read)!
    const start = this.values.prefixLength(observed, read)
    if (start < 0) return false
    let total = 0
    for (const op of pending) total += this.values.text(this.valueOfOp[op]!)!.length
    if (start + total !== text.length) return false
    return this.search(text, start, pending)
  }

  /**
   * Depth-first over (position in text, appends used), iteratively: depth d has placed d
   * appends and tries pending[cursor[d]] next. Dead (position, used) states are memoized
   * while the used set fits a bitmask. Every value is a string of any length, so values
   * are matched in place, never split on a separator.
   */
  private search(text: string, start: number, pending: readonly number[]): boolean {
    const m = pending.length
    const used = this.used
    used.fill(0, 0, m)
    this.failed?.clear()
    const memoize = m <= maxMemoizedPendingAppends
    let mask = 0
    let depth = 0
    this.positions[0] = start
    this.cursor[0] = 0
    for (let steps = 0; ; steps++) {
      if (depth === m) return true
      if (steps > maxPendingMatchSteps) {
        this.gaveUp = true
        return false
      }
      const at = this.positions[depth]!
      const next = this.nextCandidate(text, at, pending, this.cursor[depth]!)
      if (next >= 0 && !(memoize && this.isDead(at + this.length(pending[next]!), mask | (1 << next)))) {
        this.cursor[depth] = next + 1
        used[next] = 1
        mask |= memoize ? 1 << next : 0
        this.positions[++depth] = at + this.length(pending[next]!)
        this.cursor[depth] = 0
        continue
      }
      if (next >= 0) {
        this.cursor[depth] = next + 1
        continue
      }
      // Every candidate at this depth failed: the state is dead; undo the last choice.
      if (memoize) this.markDead(at, mask)
      if (depth === 0) return false
      depth--
      const undone = this.cursor[depth]! - 1
      used[undone] = 0
      if (memoize) mask &= ~(1 << undone)
    }
  }

  /** The first unused append at index >= from that fits at `at` and may go next, or -1. */
  private nextCandidate(text: string, at: number, pending: readonly number[], from: number): number {
    for (let j = from; j < pending.length; j++) {
      if (this.used[j] === 1) continue
      const op = pending[j]!
      if (!text.startsWith(this.values.text(this.valueOfOp[op]!)!, at)) continue
      if (this.mayGoNext(j, pending)) return j
    }
    return -1
  }

  /**
   * Real time allows pending[j] next when no unused append returned before it was called.
   * Among the unused appends of one value that real time allows next, only the one that
   * returned first is tried: in a solution that places another of them first, swapping the
   * two keeps real time (an op that must follow the later-returning one follows it too).
   */
  private mayGoNext(j: number, pending: readonly number[]): boolean {
    if (!this.isAllowedNext(j, pending)) return false
    const op = pending[j]!
    const ret = this.returnOfOp[op]!
    const value = this.valueOfOp[op]!
    for (let i = 0; i < pending.length; i++) {
      if (i === j || this.used[i] === 1) continue
      const other = pending[i]!
      if (this.valueOfOp[other] !== value) continue
      const otherReturn = this.returnOfOp[other]!
      if ((otherReturn < ret || (otherReturn === ret && i < j)) && this.isAllowedNext(i, pending)) return false
    }
    return true
  }

  private isAllowedNext(j: number, pending: readonly number[]): boolean {
    const call = this.callOfOp[pending[j]!]!
    for (let i = 0; i < pending.length; i++) {
      if (i !== j && this.used[i] === 0 && this.returnOfOp[pending[i]!]! < call) return false
    }
    return true
  }

  private length(op: number): number {
    return this.values.text(this.valueOfOp[op]!)!.length
  }

  private isDead(position: number, mask: number): boolean {
    return this.failed !== null && this.failed.has(position * 2 ** maxMemoizedPendingAppends + mask)
  }

  private markDead(position: number, mask: number): void {
    this.failed ??= new Set()
    this.failed.add(position * 2 ** maxMemoizedPendingAppends + mask)
  }
}
