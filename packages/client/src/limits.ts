/**
 * Named bounds of the client. Units are in the names. `checkClientLimits` verifies the
 * relations between them when a client is created.
 */
export interface ClientLimits {
  /** Deadline of one call (get, put, ...) when the caller gives none. */
  readonly defaultTimeoutMs: number
  /**
   * Longest wait for one attempt on one replica before trying the next. A slow leader is
   * retried (same request, same seq), never abandoned before the call's deadline.
   */
  readonly maxAttemptTimeoutMs: number
  /** Longest wait for a TCP connect plus the transport handshake. */
  readonly connectTimeoutMs: number
  /** First backoff between rounds (a round tries every replica once); doubles per round. */
  readonly backoffMinMs: number
  /** Ceiling of the backoff between rounds. */
  readonly backoffMaxMs: number
  /**
   * Most attempts (replica tries) in one call: a safety bound only. The deadline ends a call
   * normally; while no leader is known the client keeps backing off until then.
   */
  readonly maxAttemptsPerCall: number
  /** Most calls in flight at once (`maxInflight` option); more wait, in order. */
  readonly maxInflight: number
  /** Most calls waiting for an in-flight slot; past it, a call fails at once with UnavailableError. */
  readonly maxWaitingCalls: number
  /**
   * Most writes issued past the acknowledged watermark (seq − ackedSeq). Must stay below the
   * replicas' `maxResultsPerSession` (4096): a replica that drops the answer of a write still
   * in flight could apply its retry twice. Writes past the window wait for it to open.
   */
  readonly maxWriteWindow: number
  /**
   * Discovery (`KvClient.connect`): rounds over the given endpoints, each tried once per round in
   * order, with the jittered backoff between rounds; the call's deadline may end it sooner.
   */
  readonly maxDiscoveryRounds: number
  /** Most endpoints one discovery may be given. */
  readonly maxDiscoveryEndpoints: number
}

export const defaultClientLimits: ClientLimits = {
  defaultTimeoutMs: 5_000,
  maxAttemptTimeoutMs: 1_000,
  connectTimeoutMs: 1_000,
  backoffMinMs: 10,
  backoffMaxMs: 250,
  maxAttemptsPerCall: 10_000,
  maxInflight: 1_024,
  maxWaitingCalls: 100_000,
  maxWriteWindow: 1_024,
  maxDiscoveryRounds: 3,
  maxDiscoveryEndpoints: 64,
}

/** The replicas keep this many unacknowledged answers per session (server limits). */
export const SERVER_MAX_RESULTS_PER_SESSION = 4096

/** Fills in defaults and checks the relations between the bounds; throws RangeError. */
export function resolveClientLimits(overrides: Partial<ClientLimits> = {}): ClientLimits {
  const l: ClientLimits = { ...defaultClientLimits, ...overrides }
  checkClientLimits(l)
  return l
}

export function checkClientLimits(l: ClientLimits): void {
  const bad = (what: string): never => {
    throw new RangeError(`client limits: ${what}`)
  }
  const positiveInt = (n: number) => Number.isSafeInteger(n) && n > 0
  if (!(l.defaultTimeoutMs > 0)) bad('defaultTimeoutMs must be > 0')
  if (!(l.maxAttemptTimeoutMs > 0)) bad('maxAttemptTimeoutMs must be > 0')
  if (!(l.connectTimeoutMs > 0 && l.connectTimeoutMs <= l.maxAttemptTimeoutMs)) {
    bad('connectTimeoutMs must be in (0, maxAttemptTimeoutMs]')
  }
  if (!(l.backoffMinMs > 0 && l.backoffMaxMs >= l.backoffMinMs)) bad('need 0 < backoffMinMs ≤ backoffMaxMs')
  if (!positiveInt(l.maxAttemptsPerCall)) bad('maxAttemptsPerCall must be a positive integer')
  if (!positiveInt(l.maxInflight)) bad('maxInflight must be a positive integer')
  if (!(Number.isSafeInteger(l.maxWaitingCalls) && l.maxWaitingCalls >= 0)) bad('maxWaitingCalls must be an integer ≥ 0')
  if (!positiveInt(l.maxDiscoveryRounds)) bad('maxDiscoveryRounds must be a positive integer')
  if (!positiveInt(l.maxDiscoveryEndpoints)) bad('maxDiscoveryEndpoints must be a positive integer')
  if (!positiveInt(l.maxWriteWindow) || l.maxWriteWindow >= SERVER_MAX_RESULTS_PER_SESSION) {
    bad(`maxWriteWindow must be a positive integer below ${SERVER_MAX_RESULTS_PER_SESSION}`)
  }
}
