import { readFileSync } from 'node:fs'
import { ConfigError } from './errors.js'

/** One replica as cluster.json lists it. */
export interface ReplicaConfig {
  readonly id: string
  readonly host: string
  readonly port: number
}

export interface GroupConfig {
  readonly id: string
  readonly protocol: 'raft' | 'paxos'
  readonly replicas: readonly ReplicaConfig[]
}

/** The part of cluster.json the client reads (other fields are the nodes' and are ignored). */
export interface ClusterConfig {
  readonly clusterId: string
  readonly token: string
  readonly groups: readonly GroupConfig[]
}

/** Where a replica listens. `id` is known from the config, or learned from the welcome. */
export interface Endpoint {
  readonly host: string
  readonly port: number
}

export function endpointKey(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`
}

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

const REPLICA_ID = /^[A-Za-z0-9._-]{1,64}$/

/** Collects problems with their paths (`groups[0].replicas[1].port`), then throws them all. */
class Problems {
  readonly list: string[] = []
  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`)
  }
  string(v: unknown, path: string, maxChars: number): string {
    if (typeof v !== 'string' || v.length === 0 || v.length > maxChars) {
      this.add(path, `must be a string of 1..${maxChars} characters`)
      return ''
    }
    return v
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function parseReplica(raw: unknown, path: string, p: Problems): ReplicaConfig {
  if (!isObject(raw)) {
    p.add(path, 'must be an object')
    return { id: '', host: '', port: 0 }
  }
  const id = p.string(raw.id, `${path}.id`, 64)
  if (id !== '' && !REPLICA_ID.test(id)) p.add(`${path}.id`, 'letters, digits, dot, dash and underscore only')
  const host = p.string(raw.host, `${path}.host`, 255)
  if (!isPort(raw.port)) p.add(`${path}.port`, 'must be an integer in 1..65535')
  return { id, host, port: isPort(raw.port) ? raw.port : 0 }
}

function parseGroup(raw: unknown, path: string, p: Problems): GroupConfig {
  if (!isObject(raw)) {
    p.add(path, 'must be an object')
    return { id: '', protocol: 'raft', replicas: [] }
  }
  const id = p.string(raw.id, `${path}.id`, 64)
  const protocol = raw.protocol === 'paxos' ? 'paxos' : 'raft'
  if (raw.protocol !== 'raft' && raw.protocol !== 'paxos') p.add(`${path}.protocol`, 'must be "raft" or "paxos"')
  if (!Array.isArray(raw.replicas) || raw.replicas.length < 1 || raw.replicas.length > 9) {
    p.add(`${path}.replicas`, 'must be a list of 1..9 replicas')
    return { id, protocol, replicas: [] }
  }
  const replicas = raw.replicas.map((r, i) => parseReplica(r, `${path}.replicas[${i}]`, p))
  return { id, protocol, replicas }
}

function checkUnique(groups: readonly GroupConfig[], p: Problems): void {
  const ids = new Set<string>()
  const addresses = new Set<string>()
  groups.forEach((g, gi) =>
    g.replicas.forEach((r, ri) => {
      const path = `groups[${gi}].replicas[${ri}]`
      if (ids.has(r.id)) p.add(`${path}.id`, `duplicate replica id ${r.id}`)
      const address = endpointKey(r)
      if (addresses.has(address)) p.add(`${path}.port`, `duplicate address ${address}`)
      ids.add(r.id)
      addresses.add(address)
    }),
  )
}

/** Validates a parsed cluster.json; the error lists every bad field with its path. */
export function parseClusterConfig(raw: unknown, source = 'cluster config'): ClusterConfig {
  const p = new Problems()
  if (!isObject(raw)) throw new ConfigError(`${source} is invalid:\n  (root): must be an object`)
  const clusterId = p.string(raw.clusterId, 'clusterId', 128)
  const token = p.string(raw.token, 'token', 512)
  let groups: GroupConfig[] = []
  if (!Array.isArray(raw.groups) || raw.groups.length === 0) p.add('groups', 'must be a non-empty list')
  else groups = raw.groups.map((g, i) => parseGroup(g, `groups[${i}]`, p))
  if (p.list.length === 0) checkUnique(groups, p)
  if (p.list.length > 0) throw new ConfigError(`${source} is invalid:\n  ${p.list.join('\n  ')}`)
  return { clusterId, token, groups }
}

/** Reads and validates a cluster.json file. */
export function loadClusterConfig(path: string): ClusterConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ConfigError(`cannot read cluster config ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    throw new ConfigError(`cluster config ${path} is not valid JSON: ${(e as Error).message}`)
  }
  return parseClusterConfig(raw, path)
}
