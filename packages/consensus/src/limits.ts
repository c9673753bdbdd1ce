import type { CoreConfig } from './types.js'

/**
 * Named bounds of the contract itself, shared by the cores and the shell.
 */

/**
 * Default of `CoreConfig.maxReadysInFlight`: Readys handed out and not yet advanced. A leader
 * under load hands out about one Ready per batch of events (client requests, acknowledgements)
 * while its disk syncs; the storage layer folds them into one sync. Enough that the bound is
 * hardly ever what makes a Ready wait, small enough that the bookkeeping stays cheap.
 */
export const DEFAULT_MAX_READYS_IN_FLIGHT = 32

/** Upper bound on `CoreConfig.maxReadysInFlight`. */
export const MAX_READYS_IN_FLIGHT = 1_024

/** A configuration value outside the contract's bounds. */
export class CoreConfigError extends Error {
  readonly code = 'CORE_CONFIG'
  constructor(message: string) {
    super(message)
    this.name = 'CoreConfigError'
  }
}

/**
 * Readys the shell may hold handed out and not yet advanced under `config` (see `Ready`).
 * The core and its shell both read the bound here, so they agree on it. Throws
 * `CoreConfigError` for a value outside 1..MAX_READYS_IN_FLIGHT.
 */
export function maxReadysInFlight(config: Pick<CoreConfig, 'maxReadysInFlight'>): number {
  const n = config.maxReadysInFlight ?? DEFAULT_MAX_READYS_IN_FLIGHT
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_READYS_IN_FLIGHT) {
    throw new CoreConfigError(`maxReadysInFlight must be an integer in 1..${MAX_READYS_IN_FLIGHT}, got ${String(n)}`)
  }
  return n
}
