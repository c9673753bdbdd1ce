import { noopLogger, type Logger } from './logger.js'
import { loadClusterConfig, parseClusterConfig, parseEndpoint, type ClusterConfig } from './config.js'
import { ConfigError } from './errors.js'
import { resolveClientLimits, type ClientLimits } from './limits.js'
import { tcpConnector, type Connector } from './pool.js'
import { Router } from './router.js'

interface CommonOptions {
  /** Deadline of each call unless the call gives its own (default 5000 ms). */
  readonly timeoutMs?: number
  /** Most calls in flight at once; more wait in order (default 1024). */
  readonly maxInflight?: number
  /** pino's call shape: `logger.debug({ ...fields }, 'message')`. */
  readonly logger?: Logger
  /** Fine-tuning of the bounds in limits.ts. */
  readonly limits?: Partial<ClientLimits>
  /** Opens connections; the default speaks `@kv/transport-tcp`. For tests. */
  readonly connector?: Connector
  /** A float in [0, 1) for backoff jitter (default Math.random). */
  readonly random?: () => number
}

export interface EndpointsOptions extends CommonOptions {
  /** The replicas of the group, as "host:port". */
  readonly endpoints: readonly string[]
  readonly clusterId: string
  readonly token: string
}

export interface ConfigOptions extends CommonOptions {
  /** A parsed cluster.json, or its path. */
  readonly config: ClusterConfig | string
  /** Override the config's. */
  readonly clusterId?: string
  readonly token?: string
}

export type ClientOptions = EndpointsOptions | ConfigOptions

export interface ResolvedOptions {
  readonly router: Router
  readonly clusterId: string
  readonly token: string
  readonly limits: ClientLimits
  readonly logger: Logger
  readonly connector: Connector
  readonly random: () => number
}

function routerAndAuth(options: ClientOptions): { router: Router; clusterId: string; token: string } {
  if ('config' in options) {
    const config = typeof options.config === 'string' ? loadClusterConfig(options.config) : parseClusterConfig(options.config)
    return { router: Router.fromConfig(config), clusterId: options.clusterId ?? config.clusterId, token: options.token ?? config.token }
  }
  if (!Array.isArray(options.endpoints) || options.endpoints.length === 0) {
    throw new ConfigError('options: give endpoints (a non-empty list of "host:port") or config')
  }
  const endpoints = options.endpoints.map(parseEndpoint)
  return { router: Router.fromEndpoints(endpoints), clusterId: options.clusterId, token: options.token }
}

/** Validates the options of `createClient`; throws ConfigError or RangeError. */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new ConfigError('options: must be an object')
  const { router, clusterId, token } = routerAndAuth(options)
  if (typeof clusterId !== 'string' || clusterId === '') throw new ConfigError('options.clusterId: must be a non-empty string')
  if (typeof token !== 'string' || token === '') throw new ConfigError('options.token: must be a non-empty string')
  const limits = resolveClientLimits({
    ...options.limits,
    ...(options.timeoutMs === undefined ? {} : { defaultTimeoutMs: options.timeoutMs }),
    ...(options.maxInflight === undefined ? {} : { maxInflight: options.maxInflight }),
  })
  return {
    router,
    clusterId,
    token,
    limits,
    logger: options.logger ?? noopLogger,
    connector: options.connector ?? tcpConnector,
    random: options.random ?? Math.random,
  }
}
