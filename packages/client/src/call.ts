import type { Logger } from './logger.js'
import { endpointKey, parseEndpoint, type Endpoint } from './config.js'
import { within, sleep, type CallScope } from './deadline.js'
import { KvError, NotLeaderError, TimeoutError, UnavailableError, WrongShardError } from './errors.js'
import type { ClientLimits } from './limits.js'
import type { ConnectionPool } from './pool.js'
import { HandshakeRefusedError, TlsError } from '@kv/transport-tcp'
import { backoffMs, CallRound } from '@kv/protocol'
import type { EndpointGroup } from './router.js'

/** What a reply means for the call. */
export type Interpretation<T> =
  | { readonly kind: 'done'; readonly value: T }
  /** Not this replica: try the hinted one (a replica id, at `hintAddress` if given), else the next. */
  | { readonly kind: 'not-leader'; readonly hint: string | null; readonly hintAddress?: string }
  /** Not applied, or applied and answerable from the session: the same request may go again. */
  | { readonly kind: 'retry'; readonly code: 'TIMEOUT' | 'UNAVAILABLE' | 'WRONG_SHARD'; readonly message: string }
  /** Final: BAD_REQUEST, SESSION_EXPIRED, a reply that does not fit the request. */
  | { readonly kind: 'fail'; readonly error: KvError }
  /** The reply is malformed: the connection cannot be trusted. */
  | { readonly kind: 'invalid'; readonly reason: string }

/** One call as the retry loop sees it. */
export interface CallPlan<T> {
  readonly what: string
  readonly group: EndpointGroup
  /**
   * The request of each attempt, built fresh so a write carries the newest ackedSeq. Its
   * identity (clientId, seq, op) never changes between attempts: a request that was sent
   * without a reply may have been applied, and only its own seq lets the replicas answer
   * it from the session instead of applying it again.
   */
  readonly message: () => { readonly type: string }
  /** `from`: the replica id the connection's welcome gave. */
  readonly interpret: (raw: unknown, from: string) => Interpretation<T>
  /** Answers from this call tell who leads (false for stale reads and status). */
  readonly tracksLeader: boolean
  /** Ask this replica only (status of one endpoint). */
  readonly only?: Endpoint
  /**
   * After a WRONG_SHARD: learn the newest shard map and name the group that owns the keys now
   * (the same request, unchanged, goes there), or null if no one group does any more.
   */
  readonly reroute?: () => Promise<EndpointGroup | null>
}

export interface CallEnv {
  readonly pool: ConnectionPool
  readonly limits: ClientLimits
  readonly logger: Logger
  readonly random: () => number
}

type Failure = { readonly code: string; readonly message: string; readonly leader?: string | null }

interface CallState {
  attempts: number
  /** Some replica accepted a connection during this call. */
  reached: boolean
  last: Failure | null
}

type AttemptOutcome<T> = Interpretation<T> | { readonly kind: 'unreachable' | 'lost'; readonly message: string }

/**
 * Runs one call to its end: rounds over the group's replicas, the believed leader first,
 * following NOT_LEADER hints, moving on after a lost connection or a per-attempt timeout,
 * with a jittered backoff between rounds, until an answer, the deadline or the attempt bound.
 */
export async function runCall<T>(plan: CallPlan<T>, scope: CallScope, env: CallEnv): Promise<T> {
  const state: CallState = { attempts: 0, reached: false, last: null }
  let group = plan.group
  // Bounded by maxAttemptsPerCall (every round makes at least one attempt) and the deadline.
  for (let round = 0; state.attempts < env.limits.maxAttemptsPerCall && !scope.stopped; round++) {
    const found = await runRound(plan, group, scope, env, state)
    if (found === 'wrong-shard') {
      const next = plan.reroute === undefined ? group : await plan.reroute()
      if (next === null) {
        throw new WrongShardError(`${plan.what}: its keys now belong to more than one group; it may or may not have been applied`)
      }
      group = next
    } else if (found !== undefined) return found.value
    if (scope.stopped || state.attempts >= env.limits.maxAttemptsPerCall) break
    const delayMs = backoffMs(round, { minMs: env.limits.backoffMinMs, maxMs: env.limits.backoffMaxMs }, env.random)
    await sleep(Math.min(delayMs, scope.remainingMs()), scope.signal)
  }
  throw giveUp(plan, scope, state, env)
}

async function runRound<T>(
  plan: CallPlan<T>,
  group: EndpointGroup,
  scope: CallScope,
  env: CallEnv,
  state: CallState,
): Promise<{ value: T } | 'wrong-shard' | undefined> {
  const round = new CallRound(group, { tracksLeader: plan.tracksLeader, ...(plan.only === undefined ? {} : { only: plan.only }) })
  // Bounded: CallRound tries each replica at most twice per round.
  for (let endpoint = round.next(); endpoint !== null; endpoint = round.next()) {
    if (state.attempts >= env.limits.maxAttemptsPerCall || scope.stopped) break
    const outcome = await attempt(endpoint, plan, scope, env, state)
    // Stopped (deadline, abort, close) mid-attempt: that says nothing about the replica.
    if (scope.signal.aborted && outcome.kind !== 'done') break
    switch (outcome.kind) {
      case 'done':
        round.report(endpoint, { kind: 'done' })
        return { value: outcome.value }
      case 'fail':
        throw outcome.error
      case 'not-leader':
        state.last = { code: 'NOT_LEADER', message: `${endpointKey(endpoint)} is not the leader`, leader: outcome.hint }
        round.report(endpoint, { kind: 'not-leader', hint: outcome.hint, ...hintedEndpoint(outcome.hintAddress) })
        break
      case 'retry':
        state.last = { code: outcome.code, message: `${endpointKey(endpoint)}: ${outcome.message}` }
        round.report(endpoint, { kind: outcome.code === 'WRONG_SHARD' ? 'done' : 'failed' })
        // The group does not serve the keys: every replica of it would say so.
        if (outcome.code === 'WRONG_SHARD') return 'wrong-shard'
        break
      case 'invalid':
      case 'unreachable':
      case 'lost': {
        const message = outcome.kind === 'invalid' ? outcome.reason : outcome.message
        state.last = { code: outcome.kind.toUpperCase(), message: `${endpointKey(endpoint)}: ${message}` }
        env.logger.debug({ endpoint: endpointKey(endpoint), outcome: outcome.kind, message, what: plan.what }, 'attempt failed')
        round.report(endpoint, { kind: 'failed' })
        break
      }
      default: {
        const never: never = outcome
        throw new Error(`unexpected outcome ${JSON.stringify(never)}`)
      }
    }
  }
  return undefined
}

/** A leader's address from a NOT_LEADER answer, as an endpoint (a malformed one is ignored: the hint is advice). */
function hintedEndpoint(address: string | undefined): { hintAddress?: Endpoint } {
  if (address === undefined) return {}
  try {
    return { hintAddress: parseEndpoint(address) }
  } catch {
    return {}
  }
}

/** The not-leader outcome of a NOT_LEADER answer: its leader hint, and where that leader is when the replica said. */
export function notLeaderOutcome(e: { readonly leader?: string | null; readonly leaderAddress?: string }): Extract<Interpretation<never>, { kind: 'not-leader' }> {
  return { kind: 'not-leader', hint: e.leader ?? null, ...(e.leaderAddress === undefined ? {} : { hintAddress: e.leaderAddress }) }
}

async function attempt<T>(endpoint: Endpoint, plan: CallPlan<T>, scope: CallScope, env: CallEnv, state: CallState): Promise<AttemptOutcome<T>> {
  const attemptMs = Math.max(1, Math.min(scope.remainingMs(), env.limits.maxAttemptTimeoutMs))
  state.attempts++
  let conn
  try {
    conn = await within(env.pool.get(endpoint), attemptMs, scope.signal, `connecting to ${endpointKey(endpoint)}`)
  } catch (err) {
    // A refused handshake (wrong token or cluster id) is this client's configuration, not a
    // passing fault: retrying until the deadline would only hide it.
    if (err instanceof HandshakeRefusedError) {
      return { kind: 'fail', error: new UnavailableError(`${endpointKey(endpoint)} refused this client: ${errorMessage(err)}`) }
    }
    // So is a certificate that does not verify (another CA, another name, expired) or TLS on
    // one side only. A handshake that merely broke off is retried like any lost connection.
    if (err instanceof TlsError && err.code !== 'TLS_HANDSHAKE_FAILED') {
      return { kind: 'fail', error: new UnavailableError(`${endpointKey(endpoint)}: ${err.code}: ${errorMessage(err)}`, { cause: err }) }
    }
    return { kind: 'unreachable', message: errorMessage(err) }
  }
  state.reached = true
  let raw: unknown
  try {
    raw = await conn.request(plan.message(), { timeoutMs: attemptMs, signal: scope.signal })
  } catch (err) {
    // Timed out, closed or aborted: the request may have been applied. It is retried only
    // as itself (same clientId and seq), which the replicas answer from the session.
    return { kind: 'lost', message: errorMessage(err) }
  }
  const meaning = plan.interpret(raw, conn.serverNodeId)
  if (meaning.kind === 'invalid') {
    env.logger.warn({ endpoint: endpointKey(endpoint), reason: meaning.reason }, 'malformed reply; dropping the connection')
    await env.pool.discard(endpoint, conn)
  }
  return meaning
}

function giveUp<T>(plan: CallPlan<T>, scope: CallScope, state: CallState, env: CallEnv): Error {
  const last = state.last === null ? '' : ` (last: ${state.last.message})`
  const reason = scope.reason
  const atDeadline = reason === null ? scope.remainingMs() <= 0 : reason instanceof TimeoutError
  if (reason !== null && !atDeadline) return reason // AbortError or ClosedError
  if (!state.reached) {
    const where = plan.only !== undefined ? endpointKey(plan.only) : `group ${plan.group.id}`
    return new UnavailableError(`${plan.what}: no replica of ${where} could be reached${last}`)
  }
  if (atDeadline) return new TimeoutError(`${plan.what} timed out after ${scope.timeoutMs} ms${last}`, scope.timeoutMs)
  // The attempt bound ran out before the deadline.
  const tried = `${plan.what}: gave up after ${env.limits.maxAttemptsPerCall} attempts${last}`
  if (state.last?.code === 'NOT_LEADER') return new NotLeaderError(tried, state.last.leader ?? null)
  if (state.last?.code === 'WRONG_SHARD') return new WrongShardError(tried)
  if (state.last?.code === 'UNAVAILABLE') return new UnavailableError(tried)
  return new TimeoutError(tried, scope.timeoutMs)
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
