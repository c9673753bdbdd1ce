import { backoffMs, parseClusterTopology, type ClusterTopology } from '@kv/protocol'
import { HandshakeRefusedError, TlsError, TransportTimeoutError } from '@kv/transport-tcp'
import { endpointKey, parseEndpoint, type Endpoint } from './config.js'
import { CallScope, sleep, within } from './deadline.js'
import { AbortError, ClosedError, ConfigError, UnavailableError } from './errors.js'
import { resolveClientLimits, type ClientLimits } from './limits.js'
import { noopLogger, type Logger } from './logger.js'
import { resolveTls, withTls, type ConnectOptions } from './options.js'
import { tcpConnector, type Connector } from './pool.js'
import { parseClientResponse } from './response.js'

interface Discovery {
  readonly endpoints: readonly Endpoint[]
  readonly token: string
  readonly clusterId: string | undefined
  readonly limits: ClientLimits
  readonly timeoutMs: number
  readonly connector: Connector
  readonly logger: Logger
  readonly random: () => number
}

/** What asking one endpoint came to. */
type Answer =
  | { readonly kind: 'topology'; readonly topology: ClusterTopology }
  /** This client's credentials or TLS material: every replica would say the same. */
  | { readonly kind: 'fail'; readonly error: Error }
  /** This endpoint did not answer (or not with a topology): try the next. */
  | { readonly kind: 'failed'; readonly reason: string }

/**
 * The cluster's public topology, asked of `endpoints` in order (any replica of any group will
 * do): up to `maxDiscoveryRounds` rounds, one try of each endpoint per round, a jittered backoff
 * between rounds, all within `timeoutMs`. The hello carries the token (and `clusterId` only if
 * given); the answer names the cluster id every later connection presents.
 *
 * Rejects with UnavailableError naming each endpoint's last failure when none answered
 * ("no endpoint answered: a:1 (ECONNREFUSED), b:2 (timeout)"), at once when a replica refused the
 * token or the TLS material (every replica would), ConfigError for bad options, AbortError.
 */
export async function discoverCluster(options: ConnectOptions): Promise<ClusterTopology> {
  const d = resolveDiscovery(options)
  const scope = new CallScope({ timeoutMs: d.timeoutMs, callerSignal: options.signal, what: 'discovery' })
  const failures = new Map<string, string>()
  try {
    // Bounded: maxDiscoveryRounds rounds of one try per endpoint, and the deadline.
    for (let round = 0; round < d.limits.maxDiscoveryRounds && !scope.stopped; round++) {
      if (round > 0) await sleep(Math.min(backoffMs(round - 1, { minMs: d.limits.backoffMinMs, maxMs: d.limits.backoffMaxMs }, d.random), scope.remainingMs()), scope.signal)
      for (const endpoint of d.endpoints) {
        if (scope.stopped) break
        const answer = await ask(endpoint, d, scope)
        if (answer.kind === 'topology') return answer.topology
        if (answer.kind === 'fail') throw answer.error
        failures.set(endpointKey(endpoint), answer.reason)
        d.logger.debug({ endpoint: endpointKey(endpoint), reason: answer.reason }, 'discovery: no answer')
      }
    }
  } finally {
    scope.dispose()
  }
  const reason = scope.reason
  if (reason instanceof AbortError || reason instanceof ClosedError) throw reason
  const tried = d.endpoints.map((e) => `${endpointKey(e)} (${failures.get(endpointKey(e)) ?? 'not tried before the deadline'})`)
  throw new UnavailableError(`no endpoint answered: ${tried.join(', ')}`)
}

async function ask(endpoint: Endpoint, d: Discovery, scope: CallScope): Promise<Answer> {
  const where = endpointKey(endpoint)
  const attemptMs = Math.max(1, Math.min(scope.remainingMs(), d.limits.maxAttemptTimeoutMs))
  const opening = d.connector({
    endpoint, token: d.token, ...(d.clusterId === undefined ? {} : { clusterId: d.clusterId }),
    connectTimeoutMs: Math.max(1, Math.min(d.limits.connectTimeoutMs, attemptMs)), logger: d.logger,
  })
  let conn
  try {
    conn = await within(opening, attemptMs, scope.signal, `connecting to ${where}`)
  } catch (err) {
    // A connection that lands after we gave up on it is closed at once.
    void opening.then((late) => late.close(), () => undefined)
    // The same judgement as a call's (call.ts): the token, the cluster id, the certificates.
    if (err instanceof HandshakeRefusedError) return { kind: 'fail', error: new UnavailableError(`${where} refused this client: ${err.message}`) }
    if (err instanceof TlsError && err.code !== 'TLS_HANDSHAKE_FAILED') return { kind: 'fail', error: new UnavailableError(`${where}: ${err.code}: ${err.message}`, { cause: err }) }
    return { kind: 'failed', reason: shortReason(err) }
  }
  try {
    const raw = await conn.request({ type: 'discover' }, { timeoutMs: attemptMs, signal: scope.signal })
    const parsed = parseClusterTopology(raw)
    if (!parsed.ok) {
      // A replica of a release without discovery answers BAD_REQUEST.
      const r = parseClientResponse(raw)
      return { kind: 'failed', reason: 'invalid' in r || r.type !== 'error' ? `not a topology: ${parsed.reason}` : `${r.code}: ${r.message}` }
    }
    if (d.clusterId !== undefined && parsed.topology.clusterId !== d.clusterId) {
      return { kind: 'failed', reason: `cluster ${parsed.topology.clusterId}, not ${d.clusterId}` }
    }
    return { kind: 'topology', topology: parsed.topology }
  } catch (err) {
    return { kind: 'failed', reason: shortReason(err) }
  } finally {
    await conn.close()
  }
}

/** "ECONNREFUSED", "timeout", or the message: one endpoint's failure in a list of them. */
function shortReason(err: unknown): string {
  if (err instanceof TransportTimeoutError || (err instanceof Error && (err as { code?: unknown }).code === 'TIMEOUT')) return 'timeout'
  const cause = err instanceof Error ? (err.cause as NodeJS.ErrnoException | undefined) : undefined
  if (typeof cause?.code === 'string') return cause.code
  return err instanceof Error ? err.message : String(err)
}

function resolveDiscovery(options: ConnectOptions): Discovery {
  if (typeof options !== 'object' || options === null) throw new ConfigError('options: must be an object')
  const limits = resolveClientLimits({ ...options.limits, ...(options.timeoutMs === undefined ? {} : { defaultTimeoutMs: options.timeoutMs }) })
  if (!Array.isArray(options.endpoints) || options.endpoints.length === 0) throw new ConfigError('options.endpoints: give a non-empty list of "host:port"')
  if (options.endpoints.length > limits.maxDiscoveryEndpoints) throw new ConfigError(`options.endpoints: more than ${limits.maxDiscoveryEndpoints} endpoints`)
  const endpoints = options.endpoints.map(parseEndpoint)
  if (typeof options.token !== 'string' || options.token === '') throw new ConfigError('options.token: must be a non-empty string')
  if (options.clusterId !== undefined && (typeof options.clusterId !== 'string' || options.clusterId === '')) throw new ConfigError('options.clusterId: must be a non-empty string')
  const tls = resolveTls(options, null)
  return {
    endpoints,
    token: options.token,
    clusterId: options.clusterId,
    limits,
    timeoutMs: CallScope.checkTimeout(limits.defaultTimeoutMs),
    connector: withTls(options.connector ?? tcpConnector, tls),
    logger: options.logger ?? noopLogger,
    random: options.random ?? Math.random,
  }
}
