import type { ClusterTopology } from '@kv/protocol'
import { checkTlsMaterial, readTlsFile, TlsError, type DialTls } from '@kv/transport-tcp'
import { noopLogger, type Logger } from './logger.js'
import { loadClusterConfig, parseClusterConfig, parseEndpoint, type ClusterConfig } from './config.js'
import { ConfigError } from './errors.js'
import { resolveClientLimits, type ClientLimits } from './limits.js'
import { tcpConnector, type Connector } from './pool.js'
import { Router } from './router.js'

/**
 * TLS for the client's connections: the cluster CA that signed the replicas' certificates, and
 * a client certificate when the cluster requires one. Each item as PEM or as a file.
 */
export interface ClientTlsOptions {
  readonly ca?: string | Uint8Array
  readonly caFile?: string
  readonly cert?: string | Uint8Array
  readonly certFile?: string
  readonly key?: string | Uint8Array
  readonly keyFile?: string
}

export interface CommonOptions {
  /**
   * TLS (default: the config's `tls` section: its `caFile`, and `clientCertFile`/`clientKeyFile`
   * if set; plain TCP without one). `false`: plain TCP whatever the config says.
   */
  readonly tls?: ClientTlsOptions | false
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

/**
 * A cluster's public topology, as a replica answers `discover` (`discoverCluster`), with the
 * client token: routing as with the whole cluster.json. `KvClient.connect` builds one for you.
 */
export interface TopologyOptions extends CommonOptions {
  readonly topology: ClusterTopology
  readonly token: string
}

/**
 * `KvClient.connect` and `discoverCluster`: some replicas' addresses (of any group, the
 * controller's too) and the client token. With TLS on, `tls` gives the cluster CA (and the
 * client certificate if the cluster requires one).
 */
export interface ConnectOptions extends CommonOptions {
  /** "host:port" of replicas to ask, tried in order. */
  readonly endpoints: readonly string[]
  readonly token: string
  /** Only a cluster with this id will do (default: whichever the token opens). */
  readonly clusterId?: string
  readonly signal?: AbortSignal
}

export type ClientOptions = EndpointsOptions | ConfigOptions | TopologyOptions

export interface ResolvedOptions {
  readonly router: Router
  readonly clusterId: string
  readonly token: string
  readonly limits: ClientLimits
  readonly logger: Logger
  readonly connector: Connector
  readonly random: () => number
  /** Null: plain TCP. */
  readonly tls: DialTls | null
}

/** The TLS material the client dials with, from its options or its config; files read and checked now. */
export function resolveTls(options: { readonly tls?: ClientTlsOptions | false }, config: ClusterConfig | null): DialTls | null {
  if (options.tls === false) return null
  const t: ClientTlsOptions | undefined = options.tls ?? (config?.tls === undefined ? undefined : {
    caFile: config.tls.caFile,
    ...(config.tls.clientCertFile === undefined ? {} : { certFile: config.tls.clientCertFile }),
    ...(config.tls.clientKeyFile === undefined ? {} : { keyFile: config.tls.clientKeyFile }),
  })
  if (t === undefined) return null
  if (typeof t !== 'object' || t === null) throw new ConfigError('options.tls: must be an object or false')
  if ((t.ca === undefined) === (t.caFile === undefined)) throw new ConfigError('options.tls: give the cluster CA as ca (PEM) or caFile, one of them')
  if (t.cert !== undefined && t.certFile !== undefined) throw new ConfigError('options.tls: give cert or certFile, not both')
  if (t.key !== undefined && t.keyFile !== undefined) throw new ConfigError('options.tls: give key or keyFile, not both')
  const pem = (v: string | Uint8Array) => (typeof v === 'string' ? v : Buffer.from(v))
  try {
    const item = (value: string | Uint8Array | undefined, file: string | undefined, what: string) =>
      value !== undefined ? pem(value) : file !== undefined ? readTlsFile(file, what) : undefined
    const ca = item(t.ca, t.caFile, 'CA certificate')!
    const cert = item(t.cert, t.certFile, 'client certificate')
    const key = item(t.key, t.keyFile, 'client key')
    checkTlsMaterial({ ca, cert, key }, { ca: t.caFile ?? 'options.tls.ca', cert: t.certFile ?? 'options.tls.cert', key: t.keyFile ?? 'options.tls.key' })
    return { ca, ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) }
  } catch (e) {
    if (e instanceof TlsError) throw new ConfigError(`tls: ${e.message}`)
    throw e
  }
}

function routerAndAuth(options: ClientOptions): { router: Router; clusterId: string; token: string; config: ClusterConfig | null } {
  if ('topology' in options) {
    const t = options.topology
    if (typeof t !== 'object' || t === null || t.type !== 'topology') throw new ConfigError('options.topology: must be a cluster topology (discoverCluster answers one)')
    if (t.tls && options.tls === undefined) throw new ConfigError(`cluster ${t.clusterId} uses TLS: give options.tls (the cluster CA as ca or caFile)`)
    return { router: Router.fromTopology(t), clusterId: t.clusterId, token: options.token, config: null }
  }
  if ('config' in options) {
    const config = typeof options.config === 'string' ? loadClusterConfig(options.config) : parseClusterConfig(options.config)
    return { router: Router.fromConfig(config), clusterId: options.clusterId ?? config.clusterId, token: options.token ?? config.token, config }
  }
  if (!Array.isArray(options.endpoints) || options.endpoints.length === 0) {
    throw new ConfigError('options: give endpoints (a non-empty list of "host:port") or config')
  }
  const endpoints = options.endpoints.map(parseEndpoint)
  return { router: Router.fromEndpoints(endpoints), clusterId: options.clusterId, token: options.token, config: null }
}

/** Validates the options of `createClient`; throws ConfigError or RangeError. */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new ConfigError('options: must be an object')
  const { router, clusterId, token, config } = routerAndAuth(options)
  const tls = resolveTls(options, config)
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
    connector: withTls(options.connector ?? tcpConnector, tls),
    random: options.random ?? Math.random,
    tls,
  }
}

/** Every connection the connector opens gets the client's TLS material. */
export function withTls(connector: Connector, tls: DialTls | null): Connector {
  return tls === null ? connector : (args) => connector({ ...args, tls })
}
