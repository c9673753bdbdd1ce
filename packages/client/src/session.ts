import { randomUUID } from 'node:crypto'

/**
 * This client's exactly-once session: its id, the seq of each write (1, 2, 3, ... in issue
 * order) and the acknowledged watermark `ackedSeq`, the highest s such that every write with
 * seq ≤ s is settled (answered, or abandoned at its deadline).
 *
 * Writes are pipelined and answer out of order, so settled seqs above the watermark wait in
 * `settledAbove` until the gap below them closes. Every request carries the watermark; the
 * replicas then forget those answers and refuse to ever apply a write at or below it. That
 * is what makes abandoning a write safe: once the watermark passes it, its outcome is fixed
 * ("applied only if it already was").
 *
 * The replicas create a session when they first apply one of its writes, and they refuse a
 * request with ackedSeq > 0 for a session they do not hold (SESSION_EXPIRED: it may have
 * expired with a retried write's answer in it). So until some write has been answered (the
 * session is `established`), requests carry ackedSeq 0 (`wireAckedSeq`): otherwise a client
 * whose first writes were abandoned unapplied could never write again. Those writes are
 * fenced by the first request after the session is established.
 *
 * Invariant: ackedSeq < every unsettled issued seq, so a write's ackedSeq is below its seq.
 */
export class WriteSession {
  readonly clientId: string
  #nextSeq = 1
  #ackedSeq = 0
  readonly #settledAbove = new Set<number>()
  #established = false

  constructor(clientId: string = randomUUID()) {
    this.clientId = clientId
  }

  get ackedSeq(): number {
    return this.#ackedSeq
  }

  /** The watermark as requests carry it: 0 until the replicas hold this session. */
  get wireAckedSeq(): number {
    return this.#established ? this.#ackedSeq : 0
  }

  get established(): boolean {
    return this.#established
  }

  /** A write of this session was answered: the replicas hold the session from now on. */
  markEstablished(): void {
    this.#established = true
  }

  /** Writes issued and not yet passed by the watermark (seq − ackedSeq of the next write, minus one). */
  get outstanding(): number {
    return this.#nextSeq - 1 - this.#ackedSeq
  }

  /** The seq for a new write. */
  issue(): number {
    return this.#nextSeq++
  }

  /** The write `seq` got its answer or was abandoned. Idempotent. */
  settle(seq: number): void {
    if (!(Number.isSafeInteger(seq) && seq >= 1 && seq < this.#nextSeq)) {
      throw new Error(`settle(${seq}): never issued (next seq ${this.#nextSeq})`)
    }
    if (seq <= this.#ackedSeq) return
    this.#settledAbove.add(seq)
    // Bounded by the number of settled seqs above the old watermark.
    while (this.#settledAbove.delete(this.#ackedSeq + 1)) this.#ackedSeq++
  }

  /** For tests and the invariant check: seqs settled above a gap. */
  get settledAboveCount(): number {
    return this.#settledAbove.size
  }
}
