import { configHash } from './hash.js'
import { maxCacheBitsetBytes } from './limits.js'
import { sameState, type ModelState } from './model.js'

const NONE = -1
const initialCapacity = 1024

/** insertIfAbsent's answers besides an entry id. */
export const SEEN = -1
export const NOT_RECORDED = -2

/**
 * Lowe's cache ("Testing for linearizability", 2017, §4): the configurations already
 * explored, each a (set of linearized ops, model state) pair. Two paths that linearize
 * the same ops and reach the same state have the same future, so the second is pruned.
 *
 * Ops whose answer is unknown are optional (never taking effect is allowed), so a
 * configuration that linearized more of them is no better than one with the same known
 * ops and state that linearized fewer: if the smaller one failed, so does the larger.
 * Without this, every unknown write that a later put overwrote would double the space.
 * The smaller one must have failed, not merely be on the search path (an ancestor), so
 * entries on the path are marked. The hash covers only the known ops and the state.
 *
 * A chained hash table over flat arrays: bitsets live back to back in one pool, so an
 * entry costs no allocation beyond its state, which the search allocated anyway.
 */
export class ConfigCache {
  private capacity = initialCapacity
  private count = 0
  private pool: Uint32Array
  private hashes = new Int32Array(initialCapacity)
  private chain = new Int32Array(initialCapacity)
  private buckets = new Int32Array(initialCapacity * 2).fill(NONE)
  private readonly states: ModelState[] = []
  private onPath = new Uint8Array(initialCapacity)
  /** Set once the cache reached maxCacheBitsetBytes and stopped recording. */
  full = false

  /** @param knownMask the bits of ops whose answer is known */
  constructor(
    private readonly words: number,
    private readonly knownMask: Uint32Array,
  ) {
    this.pool = new Uint32Array(initialCapacity * words)
  }

  get size(): number {
    return this.count
  }

  /**
   * Records the configuration and returns its entry id, on the search path until
   * `leave`. Returns SEEN when it or a configuration that dominates it was explored
   * before; NOT_RECORDED once the cache is full (revisiting is slow, not wrong).
   */
  insertIfAbsent(linearized: Uint32Array, knownHash: number, state: ModelState): number {
    const hash = configHash(knownHash, state.hash)
    const mask = this.buckets.length - 1
    for (let e = this.buckets[hash & mask]!; e !== NONE; e = this.chain[e]!) {
      if (this.hashes[e] === hash && sameState(this.states[e]!, state) && this.dominates(e, linearized)) {
        return SEEN
      }
    }
    if (this.full) return NOT_RECORDED
    if (this.count === this.capacity && !this.grow()) return NOT_RECORDED
    const e = this.count++
    this.pool.set(linearized, e * this.words)
    this.hashes[e] = hash
    this.states.push(state)
    this.onPath[e] = 1
    const bucket = hash & (this.buckets.length - 1)
    this.chain[e] = this.buckets[bucket]!
    this.buckets[bucket] = e
    return e
  }

  /** The search backtracked out of the entry's configuration: it has failed. */
  leave(entry: number): void {
    this.onPath[entry] = 0
  }

  /**
   * Whether the entry is the same configuration, or one that failed with the same known
   * ops and a subset of the unknown ones.
   */
  private dominates(entry: number, linearized: Uint32Array): boolean {
    const base = entry * this.words
    let same = true
    for (let w = 0; w < this.words; w++) {
      const cached = this.pool[base + w]!
      const current = linearized[w]!
      if ((cached & ~current) !== 0 || (current & ~cached & this.knownMask[w]!) !== 0) return false
      if (cached !== current) same = false
    }
    return same || this.onPath[entry] === 0
  }

  private grow(): boolean {
    const capacity = this.capacity * 2
    if (capacity * this.words * 4 > maxCacheBitsetBytes) {
      this.full = true
      return false
    }
    const pool = new Uint32Array(capacity * this.words)
    pool.set(this.pool)
    const hashes = new Int32Array(capacity)
    hashes.set(this.hashes)
    const onPath = new Uint8Array(capacity)
    onPath.set(this.onPath)
    this.pool = pool
    this.hashes = hashes
    this.onPath = onPath
    this.chain = new Int32Array(capacity)
    this.buckets = new Int32Array(capacity * 2).fill(NONE)
    this.capacity = capacity
    const mask = this.buckets.length - 1
    for (let e = 0; e < this.count; e++) {
      const bucket = this.hashes[e]! & mask
      this.chain[e] = this.buckets[bucket]!
      this.buckets[bucket] = e
    }
    return true
  }
}
