import { clusterTopology, initialShardMap, ReplicaGroup, ShardRouter, type ClusterTopology, type GroupSpec, type ShardMap } from '@kv/protocol'
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
 * Key → group: the one place routing is decided. A cluster with a controller hands out its
 * shard map (fetched on first use and again after WRONG_SHARD); a spec of several groups
 * without one is a fixed map; a single group (or bare endpoints) serves every key. Keys are
 * placed by `@kv/protocol`'s ShardRouter, the ring the groups themselves use.
 */
export class Router {
  /** The groups of the config (shard groups; the controller is `controller`). */
  readonly groups: readonly EndpointGroup[]
  readonly controller: EndpointGroup | null
  #shards: ShardRouter | null
  /** One EndpointGroup per group id, kept across maps so leader beliefs survive a refresh. */
  readonly #byId = new Map<string, EndpointGroup>()

  constructor(groups: readonly EndpointGroup[], options: { controller?: EndpointGroup | null; map?: ShardMap | null } = {}) {
    if (groups.length === 0) throw new Error('a router needs at least one group')
    this.groups = groups
    this.controller = options.controller ?? null
    for (const g of groups) this.#byId.set(g.id, g)
    this.#shards = options.map === undefined || options.map === null ? null : new ShardRouter(options.map)
  }

  /** Through the config's public topology: a client of a cluster.json and one that discovered it route alike. */
  static fromConfig(config: ClusterConfig): Router {
    return Router.fromTopology(clusterTopology(config))
  }

  static fromTopology(topology: ClusterTopology): Router {
    const groups = topology.groups.map((g) => endpointGroup(g.id, g.replicas))
    if (topology.controller !== null) return new Router(groups, { controller: endpointGroup(topology.controller.id, topology.controller.replicas) })
    return new Router(groups, { map: topology.groups.length > 1 ? initialShardMap(topology) : null })
  }

  static fromEndpoints(endpoints: readonly Endpoint[]): Router {
    return new Router([endpointGroup('default', endpoints)])
  }

  /** Routing needs a map from the controller first. */
  get needsMap(): boolean {
    return this.controller !== null && this.#shards === null
  }

  /** The epoch of the map in use (0: none, one group serves all). */
  get epoch(): number {
    return this.#shards?.epoch ?? 0
  }

  /** The shard map in use (null: none, one group serves all). */
  get map(): ShardMap | null {
    return this.#shards?.map ?? null
  }

  /**
   * The group of `id` in the map in use (or the config): a prefix watch or a scan asks every
   * group of the map. Without a map, the one group of the config.
   */
  groupById(id: string): EndpointGroup | null {
    const known = this.#byId.get(id)
    if (known !== undefined) return known
    const spec = this.#shards?.map.groups.find((g) => g.id === id)
    if (spec === undefined) return null
    const g = endpointGroup(spec.id, spec.replicas)
    this.#byId.set(spec.id, g)
    return g
  }

  /** The group of `spec` (a group of some map, maybe not the newest). */
  groupOfSpec(spec: GroupSpec): EndpointGroup {
    let g = this.#byId.get(spec.id)
    if (g === undefined) {
      g = endpointGroup(spec.id, spec.replicas)
      this.#byId.set(spec.id, g)
    }
    return g
  }

  /** The ids of the groups every key is spread over: the map's, or the one group's. */
  get shardGroupIds(): string[] {
    return this.#shards === null ? [this.groups[0]!.id] : this.#shards.map.groups.map((g) => g.id)
  }

  /** Takes `map` if it is newer than the one in use. */
  learnMap(map: ShardMap): void {
    if (this.#shards !== null && map.epoch <= this.#shards.epoch) return
    this.#shards = new ShardRouter(map)
  }

  /** The group that owns `key`. */
  groupFor(key: string): EndpointGroup {
    if (this.#shards === null) return this.groups[0]!
    const spec = this.#shards.groupOf(key)
    let g = this.#byId.get(spec.id)
    if (g === undefined) {
      // A group added with replicas of its own (not in the config).
      g = endpointGroup(spec.id, spec.replicas)
      this.#byId.set(spec.id, g)
    }
    return g
  }

  /** The group that owns every one of `keys`, or null when they span groups. */
  groupForAll(keys: readonly string[]): EndpointGroup | null {
    const g = this.groupFor(keys[0] ?? '')
    return keys.every((k) => this.groupFor(k) === g) ? g : null
  }

  /** `keys` split by owning group: the positions of each group's keys, in order. */
  split(keys: readonly string[]): Array<{ group: EndpointGroup; positions: number[] }> {
    const parts = new Map<EndpointGroup, number[]>()
    keys.forEach((k, i) => {
      const g = this.groupFor(k)
      const list = parts.get(g)
      if (list === undefined) parts.set(g, [i])
      else list.push(i)
    })
    return [...parts].map(([group, positions]) => ({ group, positions }))
  }

  /** The group that has `endpoint`, for status queries to one replica. */
  groupWith(endpoint: Endpoint): EndpointGroup | null {
    return [...this.#byId.values(), ...(this.controller === null ? [] : [this.controller])].find((g) => g.has(endpoint)) ?? null
  }

  /** A replica welcomed us under `nodeId`: remember where it lives. */
  learn(endpoint: Endpoint, nodeId: string): void {
    for (const g of this.#byId.values()) g.learn(endpoint, nodeId)
    this.controller?.learn(endpoint, nodeId)
  }
}
