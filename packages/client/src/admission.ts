import { ClosedError, UnavailableError } from './errors.js'
import type { WriteSession } from './session.js'

interface Waiter {
  readonly kind: 'read' | 'write'
  readonly resolve: (seq: number) => void
  readonly reject: (err: Error) => void
  readonly signal: AbortSignal
  readonly onAbort: () => void
}

/**
 * Admits calls: at most `maxInflight` at once, and writes only while the write window is
 * open (seq − ackedSeq ≤ maxWriteWindow). A write gets its seq when admitted, so seqs follow
 * admission order and a write that gave up while waiting never used one.
 *
 * Full policy: calls wait in order (a read may pass a write held by the window; writes stay
 * in order among themselves). Past `maxWaitingCalls` waiting, a call fails at once with
 * UnavailableError. A waiting call leaves when its signal fires (deadline, abort or close).
 */
export class Admission {
  #inflight = 0
  #waiting: Waiter[] = []
  #closed = false

  constructor(
    private readonly session: WriteSession,
    private readonly bounds: { readonly maxInflight: number; readonly maxWriteWindow: number; readonly maxWaitingCalls: number },
  ) {}

  get inflight(): number {
    return this.#inflight
  }

  get waiting(): number {
    return this.#waiting.length
  }

  /** Resolves when admitted: 0 for a read, the new seq for a write. Rejects with the signal's reason. */
  admit(kind: 'read' | 'write', signal: AbortSignal): Promise<number> {
    if (this.#closed) return Promise.reject(new ClosedError())
    if (signal.aborted) return Promise.reject(signal.reason as Error)
    if (this.#waiting.length === 0 && this.#canAdmit(kind)) return Promise.resolve(this.#take(kind))
    if (this.#waiting.length >= this.bounds.maxWaitingCalls) {
      return Promise.reject(new UnavailableError(`more than ${this.bounds.maxWaitingCalls} calls waiting in this client`))
    }
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = {
        kind,
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.#waiting = this.#waiting.filter((w) => w !== waiter)
          reject(signal.reason as Error)
        },
      }
      signal.addEventListener('abort', waiter.onAbort, { once: true })
      this.#waiting.push(waiter)
    })
  }

  /** An admitted call finished (after its write, if any, was settled in the session). */
  release(): void {
    this.#inflight--
    this.#pump()
  }

  /** Rejects every waiting call with ClosedError; later `admit`s reject too. */
  close(): void {
    this.#closed = true
    const waiting = this.#waiting
    this.#waiting = []
    for (const w of waiting) {
      w.signal.removeEventListener('abort', w.onAbort)
      w.reject(new ClosedError())
    }
  }

  #canAdmit(kind: 'read' | 'write'): boolean {
    if (this.#inflight >= this.bounds.maxInflight) return false
    return kind === 'read' || this.session.outstanding < this.bounds.maxWriteWindow
  }

  #take(kind: 'read' | 'write'): number {
    this.#inflight++
    return kind === 'write' ? this.session.issue() : 0
  }

  #pump(): void {
    if (this.#waiting.length === 0) return
    const still: Waiter[] = []
    let i = 0
    // Bounded by the waiting list; stops early once every in-flight slot is taken.
    for (; i < this.#waiting.length && this.#inflight < this.bounds.maxInflight; i++) {
      const w = this.#waiting[i]!
      if (!this.#canAdmit(w.kind)) {
        still.push(w)
        continue
      }
      w.signal.removeEventListener('abort', w.onAbort)
      w.resolve(this.#take(w.kind))
    }
    this.#waiting = i === 0 ? this.#waiting : [...still, ...this.#waiting.slice(i)]
  }
}
