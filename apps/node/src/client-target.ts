import { createClient, discoverCluster, parseEndpoint, UnavailableError, type ClientTlsOptions, type ClusterTopology, type KvClient } from '@kv/client'
import { clusterTopology } from '@kv/protocol'
import { loadConfig, type ClusterConfig } from './config.js'
import { UsageError } from './exit-codes.js'

/**
 * Where a client command finds the cluster. In order: `--endpoints`, `KV_ENDPOINTS`, then
 * `--config`, `KV_CONFIG` (commander folds each flag with its variable, the flag first). With
 * endpoints the command asks them for the cluster's public topology (`discover`) and needs the
 * client token (`--token` / `KV_TOKEN`); with a config it reads the topology from the file.
 * `kv node`, `kv cluster up` and `kv config ...` need the whole spec and read only `--config`.
 */
export interface TargetFlags {
  config?: string
  endpoints?: string
  token?: string
  /** TLS: the cluster CA, and the client certificate and key (etcdctl's and redis-cli's names). */
  cacert?: string
  cert?: string
  key?: string
}

/** A cluster as a client command sees it: its public topology, and clients of it. */
export interface ClusterView {
  readonly topology: ClusterTopology
  /** Where the topology came from, for messages: the config file, or the endpoints asked. */
  readonly source: string
  /** The whole spec, when read from a file (its groups carry `listen`, which the topology leaves out). */
  readonly config?: ClusterConfig
  /** A new client (the caller closes it). */
  client(timeoutMs: number): KvClient
}

/** Most endpoints `--endpoints` takes (the client's `maxDiscoveryEndpoints`). */
const maxEndpoints = 64

/** `--endpoints "h1:7001,h2:7001"` as a list; a usage error names the bad item. */
export function parseEndpointList(text: string): string[] {
  const items = text.split(',').map((s) => s.trim())
  if (items.length > maxEndpoints) throw new UsageError(`--endpoints: more than ${maxEndpoints} endpoints`)
  for (const item of items) {
    if (item === '') throw new UsageError(`--endpoints ${JSON.stringify(text)}: an empty item (expected host:port,host:port,...)`)
    try {
      parseEndpoint(item)
    } catch {
      throw new UsageError(`--endpoints: ${JSON.stringify(item)} is not host:port (expected host:port,host:port,...)`)
    }
  }
  return items
}

/** `--cacert` (with `--cert` and `--key` when the cluster wants client certificates), or none. */
function tlsOf(f: TargetFlags): ClientTlsOptions | undefined {
  if ((f.cert === undefined) !== (f.key === undefined)) throw new UsageError('--cert and --key go together (the client certificate and its key)')
  if (f.cacert === undefined) {
    if (f.cert !== undefined) throw new UsageError('--cert and --key go with --cacert (the cluster CA)')
    return undefined
  }
  return { caFile: f.cacert, ...(f.cert === undefined ? {} : { certFile: f.cert }), ...(f.key === undefined ? {} : { keyFile: f.key }) }
}

/** The cluster of a cluster.json; `--token` and `--cacert`/`--cert`/`--key` replace the file's. */
export function configView(config: ClusterConfig, source: string, overrides: { token?: string; tls?: ClientTlsOptions } = {}): ClusterView {
  return { topology: clusterTopology(config), source, config, client: (timeoutMs) => createClient({ config, ...overrides, timeoutMs }) }
}

/** The cluster the flags name (see `TargetFlags`); discovery, if any, within `timeoutMs`. */
export async function openCluster(f: TargetFlags, timeoutMs: number): Promise<ClusterView> {
  const tls = tlsOf(f)
  if (f.endpoints !== undefined) {
    const endpoints = parseEndpointList(f.endpoints)
    if (f.token === undefined) throw new UsageError('--endpoints needs --token <token> (or KV_TOKEN): the client token, "token" in cluster.json')
    const auth = { token: f.token, ...(tls === undefined ? {} : { tls }) }
    const topology = await discoverCluster({ endpoints, ...auth, timeoutMs }).catch((e: unknown) => {
      // The replicas closed a plain connection without a word: say which flag is missing.
      if (tls === undefined && e instanceof UnavailableError && /requires TLS/.test(e.message)) {
        throw new UnavailableError(`${e.message}; a TLS cluster needs --cacert <ca.crt> (or KV_CACERT)`)
      }
      throw e
    })
    return { topology, source: `the topology from ${endpoints.join(',')}`, client: (ms) => createClient({ topology, ...auth, timeoutMs: ms }) }
  }
  if (f.config === undefined) {
    throw new UsageError('--endpoints <host:port,...> with --token <token> (or KV_ENDPOINTS with KV_TOKEN), or --config <cluster.json> (or KV_CONFIG) is required (make one with `kv config generate`)')
  }
  return configView(loadConfig(f.config), f.config, { ...(f.token === undefined ? {} : { token: f.token }), ...(tls === undefined ? {} : { tls }) })
}
