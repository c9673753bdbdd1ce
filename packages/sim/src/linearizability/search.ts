import { CandidateChooser } from './candidates.js'
import { ConfigCache, NOT_RECORDED, SEEN } from './cache.js'
import { NIL, type Events } from './events.js'
import { opHash } from './hash.js'
import { maxPendingMatchSteps } from './limits.js'
import type { KvModel, ModelState } from './model.js'

/** Where the search got furthest before it had to give up on a history. */
export interface DeadEnd {
  /** The longest sequence of ops the search could linearize, in order (op indices). */
  readonly prefix: readonly number[]
  /** The model state after that prefix. */
  readonly state: ModelState
  /** The op whose return came next: it had to take effect, and no pending op could be placed. */
  readonly blockedOp: number
}

export type SearchOutcome =
  | { readonly type: 'linearizable' }
  | { readonly type: 'illegal'; readonly deadEnd: DeadEnd }
  /** The step budget ran out before a verdict. */
  | { readonly type: 'outOfSteps' }
  /** No linearization found, but the model gave up on some step (see KvModel.gaveUp). */
  | { readonly type: 'inconclusive'; readonly reason: string }

/**
 * The step budget of one check, shared by every search it runs. A step is one iteration
 * of the search loop (a candidate tried, or a backtrack), so `used` depends only on the
 * history, never on the machine or the clock.
 */
export interface SearchBudget {
  readonly maxSteps: number
  used: number
}

/**
 * Wing & Gong's search with Lowe's cache, as Porcupine does it: the history is a doubly
 * linked list of call and return events; the search linearizes a pending op whose model
 * step is legal and whose resulting configuration (linearized set, state) is not cached,
 * lifting its events out of the list, and backtracks when no candidate is left before
 * the first return event. The candidates at each depth, and their order, come from
 * CandidateChooser; each depth keeps its frame of candidates and a cursor into it, so a
 * backtrack resumes with the next candidate.
 */
export class LinearizationSearch {
  private readonly linearized: Uint32Array
  private linearizedHash = 0
  private readonly opHashes: Int32Array
  private state: ModelState
  /** How many ops are linearized: the index of the current frame. */
  private depth = 0
  private readonly stackOp: Int32Array
  private readonly stackState: ModelState[]
  /** The cache entry of the configuration each op led to, or NOT_RECORDED. */
  private readonly stackEntry: Int32Array
  private readonly cache: ConfigCache
  private readonly chooser: CandidateChooser
  /** The candidate frames, back to back: frame d is candidates[frameStart(d) .. frameEnd[d]). */
  private candidates: Int32Array
  private readonly frameEnd: Int32Array
  private readonly frameCursor: Int32Array
  private readonly frameFrontier: Int32Array
  private readonly frontierOut = new Int32Array(1)
  /** The deepest dead end so far: its prefix is bestPrefix[0 .. bestDepth). */
  private bestDepth = -1
  private bestState: ModelState
  private bestFrontier = NIL
  private readonly bestPrefix: Int32Array
  /** The stack below this depth is unchanged since bestPrefix was last written. */
  private unchangedBelow = 0

  constructor(
    private readonly model: KvModel,
    private readonly events: Events,
    private readonly opCount: number,
    private readonly budget: SearchBudget,
    hints: readonly Int32Array[] | null = null,
  ) {
    const words = Math.max(1, Math.ceil(opCount / 32))
    this.linearized = new Uint32Array(words)
    // Unknown-answer ops hash to 0: the cache matches configurations on the known ops.
    this.opHashes = Int32Array.from({ length: opCount }, (_, op) => (events.callNodeOfOp[op] === NIL ? 0 : opHash(op)))
    this.state = model.initial
    this.bestState = model.initial
    this.bestPrefix = new Int32Array(opCount)
    this.stackOp = new Int32Array(opCount)
    this.stackState = new Array<ModelState>(opCount).fill(model.initial)
    this.stackEntry = new Int32Array(opCount)
    this.cache = new ConfigCache(words, knownMask(events, words))
    this.chooser = new CandidateChooser(model, events, hints)
    this.candidates = new Int32Array(Math.max(64, opCount * 4))
    this.frameEnd = new Int32Array(opCount + 1)
    this.frameCursor = new Int32Array(opCount + 1)
    this.frameFrontier = new Int32Array(opCount + 1)
  }

  /** After run() answered 'linearizable': the order found (op indices; unknown-answer ops left out never took effect). */
  linearization(): number[] {
    return Array.from(this.stackOp.subarray(0, this.depth))
  }

  get cachedConfigurations(): number {
    return this.cache.size
  }

  run(): SearchOutcome {
    const e = this.events
    if (e.next[e.head] === NIL) return { type: 'linearizable' }
    this.openFrame()
    for (;;) {
      if (this.budget.used >= this.budget.maxSteps) return { type: 'outOfSteps' }
      this.budget.used++
      const depth = this.depth
      const cursor = this.frameCursor[depth]!
      if (cursor < this.frameEnd[depth]!) {
        this.frameCursor[depth] = cursor + 1
        const op = this.candidates[cursor]!
        if (this.tryLinearize(op)) {
          this.lift(op)
          if (e.next[e.head] === NIL) return { type: 'linearizable' }
          this.openFrame()
        }
      } else {
        this.noteDeadEnd()
        if (depth === 0) return this.exhausted()
        this.unlift(this.pop())
      }
    }
  }

  /** Every candidate failed: the history is illegal, unless the model rejected a step unproven. */
  private exhausted(): SearchOutcome {
    if (this.model.gaveUp) {
      return { type: 'inconclusive', reason: `a read's value could not be matched against its key's pending appends within ${maxPendingMatchSteps} steps` }
    }
    return { type: 'illegal', deadEnd: this.deepestDeadEnd() }
  }

  /** Fills the frame of the current depth with its candidates. */
  private openFrame(): void {
    const depth = this.depth
    const start = depth === 0 ? 0 : this.frameEnd[depth - 1]!
    // A frame holds at most the ops not yet linearized.
    const needed = start + this.opCount - depth
    if (needed > this.candidates.length) {
      const grown = new Int32Array(needed * 2)
      grown.set(this.candidates.subarray(0, start))
      this.candidates = grown
    }
    const count = this.chooser.choose(this.state, this.candidates, start, this.frontierOut)
    this.frameCursor[depth] = start
    this.frameEnd[depth] = start + count
    this.frameFrontier[depth] = this.frontierOut[0]!
  }

  /** Linearizes `op` next if the model allows it and the configuration it leads to is new. */
  private tryLinearize(op: number): boolean {
    const next = this.model.step(op, this.state)
    if (next === null) return false
    const word = op >>> 5
    const bit = 1 << (op & 31)
    this.linearized[word]! |= bit
    const hash = this.linearizedHash ^ this.opHashes[op]!
    const entry = this.cache.insertIfAbsent(this.linearized, hash, next)
    if (entry === SEEN) {
      this.linearized[word]! &= ~bit
      return false
    }
    this.linearizedHash = hash
    this.stackEntry[this.depth] = entry
    this.stackOp[this.depth] = op
    this.stackState[this.depth] = this.state
    this.depth++
    this.state = next
    return true
  }

  private pop(): number {
    this.depth--
    if (this.depth < this.unchangedBelow) this.unchangedBelow = this.depth
    const entry = this.stackEntry[this.depth]!
    if (entry !== NOT_RECORDED) this.cache.leave(entry)
    const op = this.stackOp[this.depth]!
    this.state = this.stackState[this.depth]!
    this.linearized[op >>> 5]! &= ~(1 << (op & 31))
    this.linearizedHash ^= this.opHashes[op]!
    return op
  }

  /** Keeps the deepest dead end, copying only the part of the stack that changed since. */
  private noteDeadEnd(): void {
    const depth = this.depth
    if (depth <= this.bestDepth) return
    const from = Math.min(this.unchangedBelow, Math.max(this.bestDepth, 0))
    this.bestPrefix.set(this.stackOp.subarray(from, depth), from)
    this.unchangedBelow = depth
    this.bestDepth = depth
    this.bestState = this.state
    this.bestFrontier = this.frameFrontier[depth]!
  }

  private deepestDeadEnd(): DeadEnd {
    return {
      prefix: Array.from(this.bestPrefix.subarray(0, this.bestDepth)),
      state: this.bestState,
      blockedOp: this.bestFrontier,
    }
  }

  /** Takes a linearized op's events out of their list. */
  private lift(op: number): void {
    const e = this.events
    const call = e.callNodeOfOp[op]!
    if (call === NIL) {
      unlink(e.unknownNext, e.unknownPrev, e.slotOfOp[op]!)
      return
    }
    unlink(e.next, e.prev, call)
    unlink(e.next, e.prev, e.returnOfCall[call]!)
  }

  /** Undoes lift; lifts and unlifts nest, so the neighbours are the ones lift left. */
  private unlift(op: number): void {
    const e = this.events
    const call = e.callNodeOfOp[op]!
    if (call === NIL) {
      relink(e.unknownNext, e.unknownPrev, e.slotOfOp[op]!)
      return
    }
    relink(e.next, e.prev, e.returnOfCall[call]!)
    relink(e.next, e.prev, call)
  }
}

function knownMask(events: Events, words: number): Uint32Array {
  const mask = new Uint32Array(words)
  events.callNodeOfOp.forEach((call, op) => {
    if (call !== NIL) mask[op >>> 5]! |= 1 << (op & 31)
  })
  return mask
}

/** Dancing links (Knuth): the node keeps its own pointers, so relink can restore it. */
function unlink(next: Int32Array, prev: Int32Array, node: number): void {
  const before = prev[node]!
  const after = next[node]!
  next[before] = after
  if (after !== NIL) prev[after] = before
}

function relink(next: Int32Array, prev: Int32Array, node: number): void {
  const before = prev[node]!
  const after = next[node]!
  next[before] = node
  if (after !== NIL) prev[after] = node
}
