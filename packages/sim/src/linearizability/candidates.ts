import { assert } from '@kv/consensus'
import { NIL, type Events } from './events.js'
import type { KvModel, ModelState } from './model.js'

/**
 * Chooses which ops the search tries next from a configuration, and in what order. The
 * plain Wing & Gong search tries every call before the first return event; on a partition
 * of many keys (joined by batchPuts) that places writes long before they are needed and
 * backtracks through every interleaving of unrelated keys. Three rules, each keeping the
 * search complete, avoid that. Let R be the op of the first return event (the frontier):
 * every linearization from here places R before any op called after R returned.
 *
 * 1. Just in time (Lowe, "Testing for linearizability", §5): try R first, then the others.
 * 2. Only ops tied to R: take a linearization that places ops S before R. The ops of S
 *    that share no key, directly or through later ops of S, with R commute with R and with
 *    the rest of S; all of S and R are pending and called before R returned, so moving
 *    those ops after R breaks neither real time nor the model. So the next op can be
 *    chosen among the candidates whose keys connect to R's keys through candidates.
 * 3. A read-only candidate (a get, a delete that found nothing) whose step is legal now
 *    and leaves the state as it is can go first in any linearization from here: it was
 *    called before every pending op returns, it reads what it read, and it changes
 *    nothing for the ops it moves ahead of. It is then the only one tried. This needs an
 *    op that changes no state wherever it is legal; one that merely changes nothing here
 *    (a delete of an absent key whose answer is unknown) may be needed later, where it
 *    does. A get that fixes the order of pending appends changes the state: a later read
 *    may need another order.
 *
 * And one ordering heuristic (see hints.ts): candidates that precede R in the
 * linearization found for a key they share with R go before R, in that order.
 *
 * Candidates are written to a shared buffer, one frame per search depth.
 */
export class CandidateChooser {
  private readonly keyMark: Int32Array
  private epoch = 0
  private chosen: Uint8Array
  private scratch = new Int32Array(64)

  /** @param hints by op, its position in each of its keys' projected linearizations (see hints.ts) */
  constructor(
    private readonly model: KvModel,
    private readonly events: Events,
    private readonly hints: readonly Int32Array[] | null,
  ) {
    this.keyMark = new Int32Array(model.keyCount)
    this.chosen = new Uint8Array(64)
  }

  /**
   * Writes the candidates from `state` into buffer[start..] and returns how many there
   * are. The main list must not be empty. `frontierOut[0]` receives R.
   */
  choose(state: ModelState, buffer: Int32Array, start: number, frontierOut: Int32Array): number {
    const e = this.events
    let count = 0
    let node = e.next[e.head]!
    for (; e.returnOfCall[node] !== NIL; node = e.next[node]!) buffer[start + count++] = e.opOfNode[node]!
    const frontierOp = e.opOfNode[node]!
    frontierOut[0] = frontierOp
    const frontierRank = e.rankOfNode[node]!
    for (let slot = e.unknownNext[e.unknownHead]!; slot !== NIL && e.rankOfSlot[slot]! < frontierRank; slot = e.unknownNext[slot]!) {
      buffer[start + count++] = e.opOfSlot[slot]!
    }
    // R's call is before its return, so among the main-list candidates.
    const frontierAt = indexOf(buffer, start, count, frontierOp)
    assert(frontierAt >= 0, 'the frontier op is not a candidate')
    moveToFront(buffer, start, frontierAt)
    if (this.model.keyCount > 1) count = this.keepTiedToFrontier(buffer, start, count)
    const kept = this.preferLegalRead(state, buffer, start, count)
    if (kept > 1 && this.hints !== null) this.hintedFirst(buffer, start, kept)
    return kept
  }

  /** Moves the candidates that precede R (first) in a shared key's hint order before it. */
  private hintedFirst(buffer: Int32Array, start: number, count: number): void {
    if (this.scratch.length < count * 2) this.scratch = new Int32Array(count * 4)
    const scratch = this.scratch
    const frontierOp = buffer[start]!
    let before = 0
    for (let i = 1; i < count; i++) {
      const op = buffer[start + i]!
      const position = this.positionBefore(op, frontierOp)
      if (position < 0) continue
      // Insertion sort by hint position: frames hold a handful of candidates.
      let at = before++
      while (at > 0 && scratch[2 * (at - 1)]! > position) {
        scratch[2 * at] = scratch[2 * (at - 1)]!
        scratch[2 * at + 1] = scratch[2 * (at - 1) + 1]!
        at--
      }
      scratch[2 * at] = position
      scratch[2 * at + 1] = op
    }
    if (before === 0) return
    let write = start + count
    for (let i = count - 1; i >= 1; i--) {
      const op = buffer[start + i]!
      if (this.positionBefore(op, frontierOp) < 0) buffer[--write] = op
    }
    buffer[--write] = frontierOp
    for (let i = before - 1; i >= 0; i--) buffer[--write] = scratch[2 * i + 1]!
  }

  /** The op's hint position on a key it shares with `frontierOp` and precedes it on, or -1. */
  private positionBefore(op: number, frontierOp: number): number {
    const keys = this.model.keysOfOp[op]!
    const frontierKeys = this.model.keysOfOp[frontierOp]!
    const positions = this.hints![op]!
    const frontierPositions = this.hints![frontierOp]!
    for (let i = 0; i < keys.length; i++) {
      for (let j = 0; j < frontierKeys.length; j++) {
        if (keys[i] !== frontierKeys[j]) continue
        const position = positions[i]!
        if (position >= 0 && (frontierPositions[j]! < 0 || position < frontierPositions[j]!)) return position
      }
    }
    return -1
  }

  /** Rule 2: keeps, in order, the candidates whose keys connect to the frontier op's. */
  private keepTiedToFrontier(buffer: Int32Array, start: number, count: number): number {
    if (this.chosen.length < count) this.chosen = new Uint8Array(count * 2)
    const chosen = this.chosen
    chosen.fill(0, 0, count)
    const epoch = ++this.epoch
    chosen[0] = 1
    this.markKeys(buffer[start]!, epoch)
    for (let changed = true; changed; ) {
      changed = false
      for (let i = 1; i < count; i++) {
        if (chosen[i] === 0 && this.touchesMarked(buffer[start + i]!, epoch)) {
          chosen[i] = 1
          this.markKeys(buffer[start + i]!, epoch)
          changed = true
        }
      }
    }
    let kept = 0
    for (let i = 0; i < count; i++) if (chosen[i] === 1) buffer[start + kept++] = buffer[start + i]!
    return kept
  }

  /** Rule 3: a legal read-only step is the only candidate needed. */
  private preferLegalRead(state: ModelState, buffer: Int32Array, start: number, count: number): number {
    for (let i = 0; i < count; i++) {
      const op = buffer[start + i]!
      if (this.model.isLegalRead(op, state)) {
        buffer[start] = op
        return 1
      }
    }
    return count
  }

  private markKeys(op: number, epoch: number): void {
    const keys = this.model.keysOfOp[op]!
    for (let i = 0; i < keys.length; i++) this.keyMark[keys[i]!] = epoch
  }

  private touchesMarked(op: number, epoch: number): boolean {
    const keys = this.model.keysOfOp[op]!
    for (let i = 0; i < keys.length; i++) if (this.keyMark[keys[i]!] === epoch) return true
    return false
  }
}

function indexOf(buffer: Int32Array, start: number, count: number, op: number): number {
  for (let i = 0; i < count; i++) if (buffer[start + i] === op) return i
  return -1
}

/** Moves buffer[start + at] to buffer[start], shifting the ones before it up by one. */
function moveToFront(buffer: Int32Array, start: number, at: number): void {
  const op = buffer[start + at]!
  buffer.copyWithin(start + 1, start, start + at)
  buffer[start] = op
}
