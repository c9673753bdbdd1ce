import type { KvOperation } from './types.js'

export const NIL = -1

/**
 * The history as Wing & Gong's doubly linked list of call and return events, in time
 * order, over typed arrays: node i is the i-th event, `head` the sentinel before the
 * first. Linearizing an op lifts its call and return out of the list; backtracking puts
 * them back (Knuth's dancing links), so both are O(1) and allocate nothing.
 *
 * Ops whose answer never arrived have no return event: one may take effect at any time
 * after its call, or never, and "never" is the same as "after everything". They sit in a
 * second list, ordered by call, and the search tries them only after the ops with known
 * answers: an op that may never have happened should not be placed until needed.
 */
export interface Events {
  /** The main list: events of ops with a known answer. */
  readonly head: number
  readonly next: Int32Array
  readonly prev: Int32Array
  /** The op (its index in the partition) an event belongs to. */
  readonly opOfNode: Int32Array
  /** A call event's return event; NIL for a return event. */
  readonly returnOfCall: Int32Array
  /** The event's position in the time order of all events, both lists included. */
  readonly rankOfNode: Int32Array
  /** By op: its call event in the main list, or NIL when its answer is unknown. */
  readonly callNodeOfOp: Int32Array

  /** The list of ops with unknown answers, by slot, in call order; `unknownHead` is its sentinel. */
  readonly unknownHead: number
  readonly unknownNext: Int32Array
  readonly unknownPrev: Int32Array
  readonly opOfSlot: Int32Array
  readonly rankOfSlot: Int32Array
  /** By op: its slot in the unknown list, or NIL when its answer is known. */
  readonly slotOfOp: Int32Array
}

interface Event {
  readonly op: number
  readonly time: number
  readonly isCall: boolean
}

/**
 * Orders events by time. At equal times calls come first, so ops that touch at an
 * instant count as concurrent: on a clock of coarse ticks we cannot tell which came
 * first, and the checker must never report a violation that may not have happened.
 */
function byTime(a: Event, b: Event): number {
  // Not a subtraction: a known answer may arrive at Infinity, and Infinity - Infinity is NaN.
  if (a.time !== b.time) return a.time < b.time ? -1 : 1
  if (a.isCall !== b.isCall) return a.isCall ? -1 : 1
  return a.op - b.op
}

export function buildEvents(ops: readonly KvOperation[]): Events {
  const events: Event[] = []
  ops.forEach((op, index) => {
    events.push({ op: index, time: op.call, isCall: true })
    if (op.output.type !== 'unknown') events.push({ op: index, time: op.return, isCall: false })
  })
  events.sort(byTime)

  const unknownCount = ops.filter((op) => op.output.type === 'unknown').length
  const nodeCount = events.length - unknownCount
  const main = linkedList(nodeCount)
  const unknown = linkedList(unknownCount)
  const result: Events = {
    head: nodeCount,
    next: main.next,
    prev: main.prev,
    opOfNode: new Int32Array(nodeCount),
    returnOfCall: new Int32Array(nodeCount).fill(NIL),
    rankOfNode: new Int32Array(nodeCount),
    callNodeOfOp: new Int32Array(ops.length).fill(NIL),
    unknownHead: unknownCount,
    unknownNext: unknown.next,
    unknownPrev: unknown.prev,
    opOfSlot: new Int32Array(unknownCount),
    rankOfSlot: new Int32Array(unknownCount),
    slotOfOp: new Int32Array(ops.length).fill(NIL),
  }
  let node = 0
  let slot = 0
  events.forEach((event, rank) => {
    if (ops[event.op]!.output.type === 'unknown') {
      result.opOfSlot[slot] = event.op
      result.rankOfSlot[slot] = rank
      result.slotOfOp[event.op] = slot++
      return
    }
    result.opOfNode[node] = event.op
    result.rankOfNode[node] = rank
    if (event.isCall) result.callNodeOfOp[event.op] = node
    else result.returnOfCall[result.callNodeOfOp[event.op]!] = node
    node++
  })
  return result
}

/** A list of `length` nodes in index order, with the sentinel at index `length`. */
function linkedList(length: number): { next: Int32Array; prev: Int32Array } {
  const next = new Int32Array(length + 1)
  const prev = new Int32Array(length + 1)
  for (let i = 0; i <= length; i++) {
    next[i] = i + 1 < length ? i + 1 : NIL
    prev[i] = i === 0 ? length : i - 1
  }
  next[length] = length > 0 ? 0 : NIL
  prev[length] = NIL
  return { next, prev }
}
