/**
 * A FIFO of at most `capacity` items and, with a `sizeOf`, at most `maxBytes` of them (the
 * newest item is always kept, whatever its size). Full-queue policy: DROP THE OLDEST. `push`
 * on a full queue evicts from the head and returns the first item evicted so the caller can
 * count it (`lastEvictions` says how many went).
 *
 * Why the oldest, for consensus traffic: the protocols retransmit anything lost, so any
 * choice is safe; what differs is what survives. The newest messages carry the newest
 * state (current term, latest commit index, the leader's latest view of the follower), while
 * the oldest are the ones most likely to be stale by the time they would arrive (heartbeats
 * of past ticks, votes for a term that has moved on, appends a retransmission will repeat).
 * Keeping the newest also keeps the delay of what is delivered short.
 *
 * The backing array grows by doubling up to `capacity`, so an idle connection costs little.
 */
export class DropOldestQueue<T> {
  readonly capacity: number
  readonly maxBytes: number
  readonly #sizeOf: ((item: T) => number) | null
  #ring: (T | undefined)[] = new Array<T | undefined>(8)
  #sizes: number[] = new Array<number>(8).fill(0)
  #head = 0
  #length = 0
  #bytes = 0
  /** Items the last `push` evicted. */
  lastEvictions = 0

  constructor(capacity: number, bytes?: { readonly maxBytes: number; readonly sizeOf: (item: T) => number }) {
    if (!(Number.isSafeInteger(capacity) && capacity > 0)) throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`)
    if (bytes !== undefined && !(Number.isSafeInteger(bytes.maxBytes) && bytes.maxBytes > 0)) {
      throw new RangeError(`queue byte bound must be a positive integer, got ${bytes.maxBytes}`)
    }
    this.capacity = capacity
    this.maxBytes = bytes?.maxBytes ?? Infinity
    this.#sizeOf = bytes?.sizeOf ?? null
  }

  /** Bytes of the queued items, as `sizeOf` measured them (0 without one). */
  get bytes(): number {
    return this.#bytes
  }

  get length(): number {
    return this.#length
  }

  /** Appends `item`; removes and returns the oldest item(s) when over a bound (the first one evicted). */
  push(item: T): T | undefined {
    const size = this.#sizeOf === null ? 0 : this.#sizeOf(item)
    let evicted: T | undefined
    this.lastEvictions = 0
    while (this.#length > 0 && (this.#length === this.capacity || this.#bytes + size > this.maxBytes)) {
      const gone = this.shift()
      evicted ??= gone
      this.lastEvictions++
    }
    if (this.#length === this.#ring.length) this.#grow()
    const at = (this.#head + this.#length) % this.#ring.length
    this.#ring[at] = item
    this.#sizes[at] = size
    this.#bytes += size
    this.#length++
    return evicted
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined
    const item = this.#ring[this.#head]
    this.#ring[this.#head] = undefined
    this.#bytes -= this.#sizes[this.#head]!
    this.#sizes[this.#head] = 0
    this.#head = (this.#head + 1) % this.#ring.length
    this.#length--
    return item
  }

  /** Drops the oldest items until at most `keep` are left; returns how many went. */
  trimTo(keep: number): number {
    let dropped = 0
    while (this.#length > Math.max(0, keep)) {
      this.shift()
      dropped++
    }
    return dropped
  }

  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#ring[this.#head]
  }

  clear(): void {
    this.#ring = new Array<T | undefined>(8)
    this.#sizes = new Array<number>(8).fill(0)
    this.#head = 0
    this.#length = 0
    this.#bytes = 0
  }

  #grow(): void {
    const size = Math.min(this.capacity, this.#ring.length * 2)
    const next = new Array<T | undefined>(size)
    const sizes = new Array<number>(size).fill(0)
    for (let i = 0; i < this.#length; i++) {
      next[i] = this.#ring[(this.#head + i) % this.#ring.length]
      sizes[i] = this.#sizes[(this.#head + i) % this.#ring.length]!
    }
    this.#ring = next
    this.#sizes = sizes
    this.#head = 0
  }
}
