import { readFileSync } from 'node:fs'
import path from 'node:path'
import { ClusterSpecError, endpointKey, mapTlsPaths, parseClusterSpec, type ClusterSpec, type GroupSpec, type ReplicaSpec } from '@kv/protocol'
import { ConfigError } from './errors.js'

/** One replica as cluster.json lists it. */
export type ReplicaConfig = ReplicaSpec
export type GroupConfig = GroupSpec
/** cluster.json: the same spec the nodes read (`@kv/protocol`'s `clusterSpecSchema`). */
export type ClusterConfig = ClusterSpec

/** Where a replica listens. `id` is known from the config, or learned from the welcome. */
export interface Endpoint {
  readonly host: string
  readonly port: number
}

export { endpointKey }

/** "host:port" or "[ipv6]:port". */
export function parseEndpoint(text: string): Endpoint {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim())
  const host = m?.[1] ?? m?.[2]
  const port = Number(m?.[3])
  if (m === null || host === undefined || !isPort(port)) {
    throw new ConfigError(`endpoint ${JSON.stringify(text)} is not "host:port" with a port in 1..65535`)
  }
  return { host, port }
}

function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535
}

/** Validates a parsed cluster.json; the error lists every bad field with its path. */
export function parseClusterConfig(raw: unknown, source = 'cluster config'): ClusterConfig {
  try {
    return parseClusterSpec(raw, source)
  } catch (err) {
    if (err instanceof ClusterSpecError) throw new ConfigError(err.message)
    throw err
  }
}

/**
 * Reads and validates a cluster.json file. The tls section's relative paths are made absolute
 * from the file's folder (cluster.json and its certificates travel together).
 */
export function loadClusterConfig(file: string): ClusterConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new ConfigError(`cannot read cluster config ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    throw new ConfigError(`cluster config ${file} is not valid JSON: ${(e as Error).message}`)
  }
  const config = parseClusterConfig(raw, file)
  if (config.tls === undefined) return config
  const dir = path.dirname(path.resolve(file))
  return { ...config, tls: mapTlsPaths(config.tls, (p) => path.resolve(dir, p)) }
}
