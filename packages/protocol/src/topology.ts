import { z } from 'zod'
import { groupSpecSchema, replicaSpecSchema, type ClusterSpec, type GroupSpec } from './cluster-spec.js'

/**
 * Discovery: what a client that knows only some replicas' addresses and the client token (`kv
 * --endpoints a:7001,b:7001 --token T`) asks any replica, of any group, the controller's too.
 * The answer is the cluster's public topology: enough to route every key exactly as a client
 * holding the whole cluster.json would, and nothing secret. It travels on a connection whose
 * hello carried the client token, like every client request.
 */
export interface DiscoverRequest {
  readonly type: 'discover'
}

/** A message asking for the topology (the node answers it before any group's own gateway). */
export function isDiscoverRequest(msg: unknown): msg is DiscoverRequest {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'discover'
}

/** A replica as clients see it: its id and the address it advertises (never its bind address). */
const topologyReplicaSchema = replicaSpecSchema.pick({ id: true, host: true, port: true })

const topologyGroupSchema = groupSpecSchema.pick({ id: true, protocol: true }).extend({
  replicas: z.array(topologyReplicaSchema).min(1).max(9),
})

/**
 * The answer. Built field by field from the spec (`clusterTopology`), so a secret added to the
 * spec later cannot leak by accident: no token, no peer token, no certificate or key path.
 */
export const clusterTopologySchema = z
  .object({
    type: z.literal('topology'),
    clusterId: z.string().min(1).max(128),
    /** The replicas speak TLS: a client needs the cluster CA. */
    tls: z.boolean(),
    /** With `tls`: the replicas also want a client certificate signed by that CA. */
    requireClientCert: z.boolean(),
    vnodesPerGroup: z.number().int().min(1).max(4096),
    controller: topologyGroupSchema.nullable(),
    groups: z.array(topologyGroupSchema).min(1).max(256),
    /** The groups of the first shard map, when not all of them (only with a controller). */
    initialGroups: z.array(z.string().min(1).max(64)).min(1).max(256).optional(),
  })
  .superRefine((t, ctx) => {
    const ids = new Set<string>()
    for (const g of [...(t.controller === null ? [] : [t.controller]), ...t.groups]) {
      if (ids.has(g.id)) ctx.addIssue({ code: 'custom', message: `duplicate group id ${g.id}`, path: ['groups'] })
      ids.add(g.id)
    }
    t.initialGroups?.forEach((id, i) => {
      if (!t.groups.some((g) => g.id === id)) ctx.addIssue({ code: 'custom', message: `no shard group ${id} in groups`, path: ['initialGroups', i] })
    })
    if (t.initialGroups !== undefined && t.controller === null) {
      ctx.addIssue({ code: 'custom', message: 'initialGroups without a controller', path: ['initialGroups'] })
    }
  })

export type ClusterTopology = z.infer<typeof clusterTopologySchema>
export type TopologyGroup = z.infer<typeof topologyGroupSchema>

function publicGroup(g: GroupSpec): TopologyGroup {
  return { id: g.id, protocol: g.protocol, replicas: g.replicas.map((r) => ({ id: r.id, host: r.host, port: r.port })) }
}

/** The public topology of a cluster spec: what a replica answers to `discover`. */
export function clusterTopology(spec: ClusterSpec): ClusterTopology {
  return {
    type: 'topology',
    clusterId: spec.clusterId,
    tls: spec.tls !== undefined,
    requireClientCert: spec.tls?.requireClientCert === true,
    vnodesPerGroup: spec.vnodesPerGroup,
    controller: spec.controller === undefined ? null : publicGroup(spec.controller),
    groups: spec.groups.map(publicGroup),
    ...(spec.initialGroups === undefined ? {} : { initialGroups: [...spec.initialGroups] }),
  }
}

/** Every group of a topology, the controller first (as `allGroups` of a spec). */
export function topologyGroups(t: ClusterTopology): TopologyGroup[] {
  return t.controller === null ? [...t.groups] : [t.controller, ...t.groups]
}

/** The client's gateway for a `discover` answer: the topology, or why the answer is not one. */
export function parseClusterTopology(raw: unknown): { readonly ok: true; readonly topology: ClusterTopology } | { readonly ok: false; readonly reason: string } {
  const r = clusterTopologySchema.safeParse(raw)
  if (r.success) return { ok: true, topology: r.data }
  return { ok: false, reason: r.error.issues.slice(0, 3).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ') }
}
