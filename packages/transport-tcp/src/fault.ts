import { FaultConfigError } from './errors.js'
import type { OutgoingMessage } from './message.js'

/**
 * Fault injection for tests and chaos runs; off by default. A message is dropped with
 * probability `dropRate` when `dropKinds` is null or lists its kind; `delayMs` holds back
 * each message that is not dropped.
 */
export interface FaultConfig {
  readonly dropRate: number
  readonly dropKinds: readonly string[] | null
  readonly delayMs: number
}

export const noFaults: FaultConfig = { dropRate: 0, dropKinds: null, delayMs: 0 }

/** The kind of a message, as the application names it ('append', 'vote', 'client-reply'...). */
export type Classify = (msg: OutgoingMessage) => string

export const classifyByType: Classify = (msg) => msg.type

const namedDropRates: Readonly<Record<string, number>> = { low: 0.01, medium: 0.1, high: 0.3 }

/** 'low' = 0.01, 'medium' = 0.1, 'high' = 0.3, or a number in [0, 1]; anything else throws. */
export function parseDropRate(text: string): number {
  const trimmed = text.trim().toLowerCase()
  const named = namedDropRates[trimmed]
  if (named !== undefined) return named
  // Plain decimals only: Number() would also take '', '0x1' and '1e-1'.
  const rate = /^(?:\d+(?:\.\d*)?|\.\d+)$/.test(trimmed) ? Number(trimmed) : NaN
  if (!Number.isFinite(rate) || rate < 0 || rate > 1) {
    throw new FaultConfigError(`drop rate must be low, medium, high or a number in [0, 1], got ${JSON.stringify(text)}`)
  }
  return rate
}

export function checkFaultConfig(config: FaultConfig): void {
  if (!(config.dropRate >= 0 && config.dropRate <= 1)) {
    throw new FaultConfigError(`dropRate must be in [0, 1], got ${config.dropRate}`)
  }
  if (!(Number.isFinite(config.delayMs) && config.delayMs >= 0)) {
    throw new FaultConfigError(`delayMs must be a finite number ≥ 0, got ${config.delayMs}`)
  }
  if (config.dropKinds !== null && !config.dropKinds.every((k) => typeof k === 'string')) {
    throw new FaultConfigError('dropKinds must be null or a list of strings')
  }
}

export interface FaultInjectorOptions {
  readonly classify?: Classify
  /** A float in [0, 1); inject a seeded one for reproducible runs. */
  readonly random?: () => number
}

export class FaultInjector {
  readonly config: FaultConfig
  readonly #classify: Classify
  readonly #random: () => number
  readonly #kinds: ReadonlySet<string> | null

  constructor(config: FaultConfig = noFaults, options: FaultInjectorOptions = {}) {
    checkFaultConfig(config)
    this.config = config
    this.#classify = options.classify ?? classifyByType
    this.#random = options.random ?? Math.random
    this.#kinds = config.dropKinds === null ? null : new Set(config.dropKinds)
  }

  get delayMs(): number {
    return this.config.delayMs
  }

  /** Draws from `random` only for messages that are candidates (so a seeded run replays). */
  shouldDrop(msg: OutgoingMessage): boolean {
    if (this.config.dropRate <= 0) return false
    if (this.#kinds !== null && !this.#kinds.has(this.#classify(msg))) return false
    return this.#random() < this.config.dropRate
  }
}

/**
 * Runs callbacks `delayMs` later, at most `maxPending` at a time (a delayed message is still
 * a queued message and must be bounded). `clear` cancels them all (on close).
 */
export class DelayLine {
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly delayMs: number
  readonly maxPending: number

  constructor(delayMs: number, maxPending: number) {
    this.delayMs = delayMs
    this.maxPending = maxPending
  }

  get pending(): number {
    return this.#timers.size
  }

  /** False (and `run` is not scheduled) when `maxPending` callbacks are already waiting. */
  schedule(run: () => void): boolean {
    if (this.#timers.size >= this.maxPending) return false
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      run()
    }, this.delayMs)
    this.#timers.add(timer)
    return true
  }

  clear(): void {
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
  }
}
