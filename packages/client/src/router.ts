import { ReplicaGroup } from '@kv/protocol'
import { endpointKey, type ClusterConfig, type Endpoint } from './config.js'

/** A group's replicas addressed by endpoint: `@kv/protocol`'s routing state, shared with the simulator. */
export type EndpointGroup = ReplicaGroup<Endpoint>

export function endpointGroup(id: string, replicas: ReadonlyArray<Endpoint & { readonly id?: string }>): EndpointGroup {
  return new ReplicaGroup(
    id,
    replicas.map((r) => ({ address: { host: r.host, port: r.port }, ...(r.id === undefined ? {} : { id: r.id }) })),
    endpointKey,
  )
}

/**
 * Key → group: the one place routing is decided. Today a cluster has one group and every
 * key maps to it; the consistent-hashing ring and the shard map slot in here.
 */
export class Router {
  readonly groups: readonly EndpointGroup[]

  constructor(groups: readonly EndpointGroup[]) {
    if (groups.length === 0) throw new Error('a router needs at least one group')
    this.groups = groups
  }

  static fromConfig(config: ClusterConfig): Router {
    // One group for now (sharding comes later): groups[0] serves every key.
    const first = config.groups[0]
    if (first === undefined) throw new Error('cluster config without groups')
    return new Router([endpointGroup(first.id, first.replicas)])
  }

  static fromEndpoints(endpoints: readonly Endpoint[]): Router {
    return new Router([endpointGroup('default', endpoints)])
  }

  /** The group that owns `key`. */
  groupFor(_key: string): EndpointGroup {
    return this.groups[0]!
  }

  /** The group that owns every one of `keys` (a batch must not span groups). */
  groupForAll(keys: readonly string[]): EndpointGroup {
    return this.groupFor(keys[0] ?? '')
  }

  /** The group that has `endpoint`, for status queries to one replica. */
  groupWith(endpoint: Endpoint): EndpointGroup | null {
    return this.groups.find((g) => g.has(endpoint)) ?? null
  }

  /** A replica welcomed us under `nodeId`: remember where it lives. */
  learn(endpoint: Endpoint, nodeId: string): void {
    for (const g of this.groups) g.learn(endpoint, nodeId)
  }
}
