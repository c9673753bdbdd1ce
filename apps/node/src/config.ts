import { randomBytes } from 'node:crypto'
import { ConfigError, loadClusterConfig, parseClusterConfig } from '@kv/client'
import { allGroups, groupOfReplica, layoutCluster, type ClusterSpec, type GroupSpec, type ReplicaSpec } from '@kv/protocol'

/**
 * What `kv config generate` writes and every `kv` command reads: `@kv/protocol`'s cluster
 * spec, the one the client and the simulator read too.
 */
export type ClusterConfig = ClusterSpec
export type ReplicaConfig = ReplicaSpec
export type GroupConfig = GroupSpec
export { ConfigError }

/** Validates a parsed config; the error names the bad field (`groups[0].replicas[1].port: ...`). */
export const parseConfig: (raw: unknown, source?: string) => ClusterConfig = parseClusterConfig
export const loadConfig: (path: string) => ClusterConfig = loadClusterConfig

export interface GenerateOptions {
  /** Faults tolerated per group: each group gets 2f+1 replicas. */
  f: number
  groups: number
  protocol: 'raft' | 'paxos'
  basePort: number
  host: string
  /** Give replica i of each group its own loopback address 127.0.g.i (for partition tests with a firewall). */
  spreadHosts?: boolean
  /** A controller group owning the shard map (default: with more than one group). */
  controller?: boolean
  /** Shard groups beyond `groups`, outside the first map (for `kv shard add --group`). */
  spare?: number
  /** One machine per replica index: replica i of every group on hosts[i] (2f+1 of them). */
  hosts?: readonly string[]
  /** Every replica binds 0.0.0.0 on its port (it still advertises its host). */
  listenAll?: boolean
}

/**
 * A new cluster with a fresh id, a client token and a separate peer token (so that a client's
 * credential can never join as a replica).
 */
export function generateConfig(o: GenerateOptions): ClusterConfig {
  const spare = o.spare ?? 0
  const controller = o.controller ?? (o.groups > 1 || spare > 0)
  const spec = layoutCluster({
    ...o, groups: o.groups + spare, controller, clusterId: `kv-${randomBytes(6).toString('hex')}`,
    token: randomBytes(16).toString('hex'), peerToken: randomBytes(24).toString('hex'),
  })
  if (spare === 0) return spec
  return parseConfig({ ...spec, initialGroups: spec.groups.slice(0, o.groups).map((g) => g.id) })
}

/** The replica `id` and its group. */
export function findReplica(config: ClusterConfig, id: string): { group: GroupConfig; replica: ReplicaConfig } {
  const found = groupOfReplica(config, id)
  if (found !== null) return found
  const known = allGroups(config).flatMap((g) => g.replicas.map((r) => r.id)).join(', ')
  throw new ConfigError(`no replica "${id}" in the config (known: ${known})`)
}
