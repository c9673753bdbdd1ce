import { AbortError, BadRequestError, ClosedError, TimeoutError } from './errors.js'

/**
 * The life of one call: its deadline and one AbortSignal that fires on whichever comes first
 * of the deadline, the caller's signal and `cancel` (the client's close). The signal's reason is the
 * error the call ends with (TimeoutError, AbortError or ClosedError), so every await in the
 * call can stop on it and the call can tell why it stopped.
 */
export class CallScope {
  readonly signal: AbortSignal
  readonly timeoutMs: number
  readonly #deadline: number
  readonly #controller = new AbortController()
  readonly #timer: NodeJS.Timeout
  readonly #cleanups: Array<() => void> = []

  constructor(args: { timeoutMs: number; callerSignal: AbortSignal | undefined; what: string }) {
    const { timeoutMs, callerSignal, what } = args
    this.timeoutMs = timeoutMs
    this.signal = this.#controller.signal
    this.#deadline = performance.now() + timeoutMs
    this.#timer = setTimeout(() => this.#controller.abort(new TimeoutError(`${what} timed out after ${timeoutMs} ms`, timeoutMs)), timeoutMs)
    if (callerSignal !== undefined) this.#follow(callerSignal, () => new AbortError(callerSignal.reason))
  }

  /** Checks a caller's timeout option: a positive finite number of milliseconds. */
  static checkTimeout(timeoutMs: number): number {
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new BadRequestError(`timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`)
    }
    return timeoutMs
  }

  /** Milliseconds left before the deadline (≤ 0 once it passed). */
  remainingMs(): number {
    return this.#deadline - performance.now()
  }

  get stopped(): boolean {
    return this.signal.aborted || this.remainingMs() <= 0
  }

  /** Why the call stopped, if it did: the signal's reason (a KvError). */
  get reason(): Error | null {
    return this.signal.aborted ? (this.signal.reason as Error) : null
  }

  /** Ends the call now with `reason` (no-op once it stopped). */
  cancel(reason: Error = new ClosedError()): void {
    this.#controller.abort(reason)
  }

  dispose(): void {
    clearTimeout(this.#timer)
    for (const undo of this.#cleanups) undo()
    this.#cleanups.length = 0
  }

  #follow(source: AbortSignal, reason: () => Error): void {
    if (source.aborted) {
      this.#controller.abort(reason())
      return
    }
    const onAbort = () => this.#controller.abort(reason())
    source.addEventListener('abort', onAbort, { once: true })
    this.#cleanups.push(() => source.removeEventListener('abort', onAbort))
  }
}

/** Waits `ms`, or less if `signal` fires first (never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) {
      resolve()
      return
    }
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

/** `promise`, or a rejection after `ms` or when `signal` fires; `promise` itself runs on. */
export function within<T>(promise: Promise<T>, ms: number, signal: AbortSignal, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const finish = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
    }
    const onAbort = () => {
      finish()
      reject(signal.reason as Error)
    }
    const timer = setTimeout(() => {
      finish()
      reject(new TimeoutError(`${what} took longer than ${Math.round(ms)} ms`, ms))
    }, ms)
    if (signal.aborted) {
      onAbort()
      return
    }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        finish()
        resolve(value)
      },
      (err: unknown) => {
        finish()
        reject(err instanceof Error ? err : new Error(String(err)))
      },
    )
  })
}
