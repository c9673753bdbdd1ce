import { z } from 'zod'
import type { ShardMap } from './shard-map.js'

/**
 * The cluster spec: what `kv config generate` writes to cluster.json, what every `kv node`,
 * every `@kv/client` and the simulator are built from. One schema, so the client and the node
 * can never disagree on what a valid cluster is.
 *
 * A cluster is an optional controller group (it owns the shard map) and N shard groups; each
 * group is 2f+1 replicas running Raft or Multi-Paxos. Replica ids and addresses are unique
 * across the whole cluster, so a replica id names one process.
 */
const replicaSpec = z.object({
  id: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535),
})

export const groupSpecSchema = z.object({
  id: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
  protocol: z.enum(['raft', 'paxos']),
  replicas: z.array(replicaSpec).min(1).max(9),
})

export const clusterSpecSchema = z
  .object({
    clusterId: z.string().min(1).max(128),
    token: z.string().min(1).max(512),
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
    const check = (g: z.infer<typeof groupSpecSchema>, path: Array<string | number>) => {
      if (groupIds.has(g.id)) ctx.addIssue({ code: 'custom', message: `duplicate group id ${g.id}`, path: [...path, 'id'] })
      groupIds.add(g.id)
      g.replicas.forEach((r, ri) => {
        if (replicaIds.has(r.id)) ctx.addIssue({ code: 'custom', message: `duplicate replica id ${r.id}`, path: [...path, 'replicas', ri, 'id'] })
        const address = endpointKey(r)
        if (addresses.has(address)) ctx.addIssue({ code: 'custom', message: `duplicate address ${address}`, path: [...path, 'replicas', ri, 'port'] })
        replicaIds.add(r.id)
        addresses.add(address)
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
    if (c.heartbeatTicks >= c.electionTimeoutTicks) {
      ctx.addIssue({ code: 'custom', message: 'heartbeatTicks must be below electionTimeoutTicks', path: ['heartbeatTicks'] })
    }
  })

export type ClusterSpec = z.infer<typeof clusterSpecSchema>
export type GroupSpec = z.infer<typeof groupSpecSchema>
export type ReplicaSpec = z.infer<typeof replicaSpec>
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

/** The shard map a cluster starts from: epoch 1, the spec's initial groups (all by default). */
export function initialShardMap(spec: ClusterSpec): ShardMap {
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
}

/** Lays out a cluster on consecutive ports: `ctl`, `g1`, `g2`, ... with replicas `<group>-r<i>`. */
export function layoutCluster(o: LayoutOptions): ClusterSpec {
  let port = o.basePort
  const size = 2 * o.f + 1
  const group = (id: string, g: number): GroupSpec => ({
    id,
    protocol: o.protocol,
    replicas: Array.from({ length: size }, (_, r) => ({
      id: `${id}-r${r + 1}`,
      host: o.spreadHosts === true ? `127.0.${g}.${r + 1}` : o.host,
      port: port++,
    })),
  })
  const controller = o.controller === true ? { controller: group('ctl', 250) } : {}
  const groups = Array.from({ length: o.groups }, (_, g) => group(`g${g + 1}`, g + 1))
  return parseClusterSpec({ clusterId: o.clusterId, token: o.token, ...controller, groups }, 'generated config')
}
