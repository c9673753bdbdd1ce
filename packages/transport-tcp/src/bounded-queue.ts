/**
 * A FIFO of at most `capacity` items. Full-queue policy: DROP THE OLDEST. `push` on a full
 * queue evicts the head and returns it so the caller can count it.
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
  #ring: (T | undefined)[] = new Array<T | undefined>(8)
  #head = 0
  #length = 0

  constructor(capacity: number) {
    if (!(Number.isSafeInteger(capacity) && capacity > 0)) throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`)
    this.capacity = capacity
  }

  get length(): number {
    return this.#length
  }

  /** Appends `item`; when the queue was full, removes and returns the oldest item. */
  push(item: T): T | undefined {
    let evicted: T | undefined
    if (this.#length === this.capacity) evicted = this.shift()
    else if (this.#length === this.#ring.length) this.#grow()
    this.#ring[(this.#head + this.#length) % this.#ring.length] = item
    this.#length++
    return evicted
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined
    const item = this.#ring[this.#head]
    this.#ring[this.#head] = undefined
    this.#head = (this.#head + 1) % this.#ring.length
    this.#length--
    return item
  }

  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#ring[this.#head]
  }

  clear(): void {
    this.#ring = new Array<T | undefined>(8)
    this.#head = 0
    this.#length = 0
  }

  #grow(): void {
    const size = Math.min(this.capacity, this.#ring.length * 2)
    const next = new Array<T | undefined>(size)
    for (let i = 0; i < this.#length; i++) next[i] = this.#ring[(this.#head + i) % this.#ring.length]
    this.#ring = next
    this.#head = 0
  }
}
