import { z } from 'zod'
import type { ShardMap } from './shard-map.js'
import { tlsSpecSchema } from './tls-spec.js'

/**
 * The cluster spec: what `kv config generate` writes to cluster.json, what every `kv node`,
 * every `@kv/client` and the simulator are built from. One schema, so the client and the node
 * can never disagree on what a valid cluster is.
 *
 * A cluster is an optional controller group (it owns the shard map) and N shard groups; each
 * group is 2f+1 replicas running Raft or Multi-Paxos. Replica ids and addresses are unique
 * across the whole cluster, so a replica id names one process.
 */
const hostSchema = z.string().min(1).max(255).regex(/^[^\s/]+$/, 'a host name or an IP address (no spaces or slashes)')
const portSchema = z.number().int().min(1).max(65535)

/** "host:port" or "[ipv6]:port": a listen address written as one string. */
const hostPortText = z.string().max(300).refine((s) => parseHostPort(s) !== null, 'expected "host:port" (or "[ipv6]:port") with a port in 1..65535')

export const replicaSpecSchema = z.object({
  id: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
  /** Where peers and clients reach this replica: the advertised address (DNS name or IP). */
  host: hostSchema,
  port: portSchema,
  /**
   * Where the replica binds, when that is not the advertised address (behind NAT, in a
   * container, `0.0.0.0` on every interface): "host:port" or `{ host, port }`. Default: `host:port`.
   */
  listen: z.union([hostPortText, z.object({ host: hostSchema, port: portSchema }).strict()]).optional(),
})

export const groupSpecSchema = z.object({
  id: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
  protocol: z.enum(['raft', 'paxos']),
  replicas: z.array(replicaSpecSchema).min(1).max(9),
})

export const clusterSpecSchema = z
  .object({
    clusterId: z.string().min(1).max(128),
    /** What clients present in their hello. */
    token: z.string().min(1).max(512),
    /**
     * What replicas present to each other. With it, a replica accepts a peer hello only with
     * this token and a client hello only with `token`, so a client's credential can never join
     * as a replica. Without it (configs written before it existed), peers use `token` too; a
     * replica warns at start. `kv config generate` writes one.
     */
    peerToken: z.string().min(16, 'at least 16 characters').max(512).optional(),
    /** TLS for every connection, peer and client (see tls-spec.ts). Off when absent. */
    tls: tlsSpecSchema.optional(),
    tickMs: z.number().int().min(1).max(1000).default(50),
    electionTimeoutTicks: z.number().int().min(2).max(1000).default(10),
    heartbeatTicks: z.number().int().min(1).max(1000).default(2),
    /**
     * Every replica snapshots its state machine and compacts its log after this many applied
     * entries (etcd's --snapshot-count); 0 never. Default: the replica's (10,000).
     */
    snapshotEveryEntries: z.number().int().min(0).max(100_000_000).optional(),
    /** Virtual nodes per group on the hash ring (`@kv/hashring`). */
    vnodesPerGroup: z.number().int().min(1).max(4096).default(128),
    /** The group whose state machine is the shard map. Without one, the map is `groups`, fixed. */
    controller: groupSpecSchema.optional(),
    groups: z.array(groupSpecSchema).min(1).max(256),
    /**
     * The groups of the first shard map (default: all). The others are listed so that nodes
     * and `kv shard add --group ID` know their replicas; they serve once added.
     */
    initialGroups: z.array(z.string().min(1).max(64)).min(1).optional(),
  })
  .superRefine((c, ctx) => {
    const groupIds = new Set<string>()
    const replicaIds = new Set<string>()
    const addresses = new Set<string>()
    const binds: Array<{ advertised: string; bind: { host: string; port: number }; path: Array<string | number> }> = []
    const check = (g: z.infer<typeof groupSpecSchema>, path: Array<string | number>) => {
      if (groupIds.has(g.id)) ctx.addIssue({ code: 'custom', message: `duplicate group id ${g.id}`, path: [...path, 'id'] })
      groupIds.add(g.id)
      g.replicas.forEach((r, ri) => {
        if (replicaIds.has(r.id)) ctx.addIssue({ code: 'custom', message: `duplicate replica id ${r.id}`, path: [...path, 'replicas', ri, 'id'] })
        const address = endpointKey(r)
        if (addresses.has(address)) ctx.addIssue({ code: 'custom', message: `duplicate address ${address}`, path: [...path, 'replicas', ri, 'port'] })
        replicaIds.add(r.id)
        addresses.add(address)
        // A malformed listen string has its own issue already.
        const bind = typeof r.listen === 'string' ? parseHostPort(r.listen) : listenAddress(r)
        if (bind !== null) binds.push({ advertised: r.host, bind, path: [...path, 'replicas', ri, 'listen'] })
      })
    }
    if (c.controller !== undefined) check(c.controller, ['controller'])
    c.groups.forEach((g, gi) => check(g, ['groups', gi]))
    c.initialGroups?.forEach((id, i) => {
      if (!c.groups.some((g) => g.id === id)) ctx.addIssue({ code: 'custom', message: `no shard group ${id} in groups`, path: ['initialGroups', i] })
    })
    if (c.initialGroups !== undefined && c.controller === undefined) {
      ctx.addIssue({ code: 'custom', message: 'groups outside the first map can only be added through a controller', path: ['initialGroups'] })
    }
    checkBinds(binds, ctx)
    if (c.peerToken !== undefined && c.peerToken === c.token) {
      ctx.addIssue({ code: 'custom', message: 'peerToken must differ from token (a client credential must not let anyone join as a replica)', path: ['peerToken'] })
    }
    if (c.heartbeatTicks >= c.electionTimeoutTicks) {
      ctx.addIssue({ code: 'custom', message: 'heartbeatTicks must be below electionTimeoutTicks', path: ['heartbeatTicks'] })
    }
  })

/**
 * Replicas that advertise the same host run on one machine: they cannot bind the same port on
 * the same (or the wildcard) address. Replicas on different hosts are not compared (NAT may
 * map any of them anywhere).
 */
function checkBinds(binds: ReadonlyArray<{ advertised: string; bind: { host: string; port: number }; path: Array<string | number> }>, ctx: z.RefinementCtx): void {
  const wildcard = (h: string) => h === '0.0.0.0' || h === '::' || h === '[::]'
  binds.forEach((b, i) => {
    const clash = binds.slice(0, i).find((o) => o.advertised === b.advertised && o.bind.port === b.bind.port && (o.bind.host === b.bind.host || wildcard(o.bind.host) || wildcard(b.bind.host)))
    if (clash !== undefined) ctx.addIssue({ code: 'custom', message: `listen address ${endpointKey(b.bind)} clashes with another replica on host ${b.advertised}`, path: b.path })
  })
}

/** "host:port" or "[ipv6]:port" as `{ host, port }`, or null. */
export function parseHostPort(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]\s]+)\]|([^:[\]\s/]+)):(\d{1,5})$/.exec(text.trim())
  const host = m?.[1] ?? m?.[2]
  const port = Number(m?.[3])
  if (m === null || host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return null
  return { host, port }
}

/** Where a replica binds: its `listen` address, else the address it advertises. */
export function listenAddress(r: { readonly host: string; readonly port: number; readonly listen?: string | { readonly host: string; readonly port: number } | undefined }): { host: string; port: number } {
  if (r.listen === undefined) return { host: r.host, port: r.port }
  if (typeof r.listen === 'string') {
    const parsed = parseHostPort(r.listen)
    // The schema refused any other string.
    if (parsed === null) throw new Error(`listen address ${JSON.stringify(r.listen)} is not host:port`)
    return parsed
  }
  return { host: r.listen.host, port: r.listen.port }
}

export type ClusterSpec = z.infer<typeof clusterSpecSchema>
export type GroupSpec = z.infer<typeof groupSpecSchema>
export type ReplicaSpec = z.infer<typeof replicaSpecSchema>
/** What a caller may write: the fields with defaults are optional. */
export type ClusterSpecInput = z.input<typeof clusterSpecSchema>

/** A cluster spec that does not validate; `problems` name each bad field (`groups[0].replicas[1].port: ...`). */
export class ClusterSpecError extends Error {
  readonly code = 'BAD_CONFIG'
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source} is invalid:\n  ${problems.join('\n  ')}`)
    this.name = 'ClusterSpecError'
  }
}

/** Validates a parsed cluster.json and fills in the defaults. */
export function parseClusterSpec(raw: unknown, source = 'cluster config'): ClusterSpec {
  const r = clusterSpecSchema.safeParse(raw)
  if (r.success) return r.data
  throw new ClusterSpecError(source, r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`))
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(root)'
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('')
}

/** "host:port", with IPv6 hosts in brackets. */
export function endpointKey(e: { readonly host: string; readonly port: number }): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`
}

/**
 * The shard map a cluster starts from: epoch 1, the spec's initial groups (all by default). Also
 * of a cluster's public topology (topology.ts), which carries the same three fields.
 */
export function initialShardMap(spec: { readonly groups: readonly GroupSpec[]; readonly initialGroups?: readonly string[] | undefined; readonly vnodesPerGroup: number }): ShardMap {
  const initial = spec.initialGroups
  const groups = initial === undefined ? spec.groups : spec.groups.filter((g) => initial.includes(g.id))
  return { epoch: 1, vnodesPerGroup: spec.vnodesPerGroup, groups }
}

/** Every group of the spec, the controller first. */
export function allGroups(spec: ClusterSpec): GroupSpec[] {
  return spec.controller === undefined ? [...spec.groups] : [spec.controller, ...spec.groups]
}

/** The group that replica `id` belongs to, or null. */
export function groupOfReplica(spec: ClusterSpec, id: string): { group: GroupSpec; replica: ReplicaSpec } | null {
  for (const group of allGroups(spec)) {
    const replica = group.replicas.find((r) => r.id === id)
    if (replica !== undefined) return { group, replica }
  }
  return null
}

export interface LayoutOptions {
  readonly clusterId: string
  readonly token: string
  /** The replicas' credential, separate from the clients' `token` (recommended). */
  readonly peerToken?: string
  /** Faults tolerated per group: each group gets 2f+1 replicas. */
  readonly f: number
  readonly groups: number
  readonly protocol: 'raft' | 'paxos'
  /** Also lay out a controller group (`ctl`, replicas `ctl-r1`...) before the shard groups. */
  readonly controller?: boolean
  readonly basePort: number
  readonly host: string
  /** Give replica r of group g its own loopback address 127.0.g.r (the controller is g = 0+250). */
  readonly spreadHosts?: boolean
  /**
   * One machine per replica index: replica i of every group on `hosts[i]` (2f+1 distinct
   * hosts), group k on port `basePort + k` on every machine. Overrides `host` and `spreadHosts`.
   */
  readonly hosts?: readonly string[]
  /** Bind every replica to 0.0.0.0 on its port (it still advertises its host). */
  readonly listenAll?: boolean
}

/**
 * Lays out a cluster: `ctl`, `g1`, `g2`, ... with replicas `<group>-r<i>`, on consecutive
 * ports of one host (or one loopback address each), or with `hosts` one replica of every group
 * per machine.
 */
export function layoutCluster(o: LayoutOptions): ClusterSpec {
  const size = 2 * o.f + 1
  const hosts = o.hosts
  if (hosts !== undefined) checkLayoutHosts(hosts, size)
  let port = o.basePort
  let groupIndex = 0
  const group = (id: string, g: number): GroupSpec => {
    const groupPort = o.basePort + groupIndex++
    return {
      id,
      protocol: o.protocol,
      replicas: Array.from({ length: size }, (_, r) => {
        const p = hosts === undefined ? port++ : groupPort
        const host = hosts?.[r] ?? (o.spreadHosts === true ? `127.0.${g}.${r + 1}` : o.host)
        return { id: `${id}-r${r + 1}`, host, port: p, ...(o.listenAll === true ? { listen: `0.0.0.0:${p}` } : {}) }
      }),
    }
  }
  const controller = o.controller === true ? { controller: group('ctl', 250) } : {}
  const groups = Array.from({ length: o.groups }, (_, g) => group(`g${g + 1}`, g + 1))
  const peerToken = o.peerToken === undefined ? {} : { peerToken: o.peerToken }
  return parseClusterSpec({ clusterId: o.clusterId, token: o.token, ...peerToken, ...controller, groups }, 'generated config')
}

function checkLayoutHosts(hosts: readonly string[], size: number): void {
  if (hosts.length !== size) {
    throw new ClusterSpecError('--hosts', [`${hosts.length} host(s) given; a group of ${size} replicas (2f+1) needs ${size}, one per machine`])
  }
  const seen = new Set<string>()
  for (const h of hosts) {
    if (!/^[^\s/:]+$|^[0-9a-fA-F:]+$/.test(h)) throw new ClusterSpecError('--hosts', [`${JSON.stringify(h)} is not a host name or an IP address`])
    if (seen.has(h)) throw new ClusterSpecError('--hosts', [`${h} is listed twice: each replica of a group needs its own machine`])
    seen.add(h)
  }
}
