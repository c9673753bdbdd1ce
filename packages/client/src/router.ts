import { endpointKey, type ClusterConfig, type Endpoint } from './config.js'

/**
 * The replicas of one group and what this client believes about them: which one leads, and
 * which replica id lives at which endpoint (from the config, or learned from each
 * connection's welcome). Leader hints name replica ids; this is where they become endpoints.
 */
export class ReplicaGroup {
  readonly id: string
  readonly endpoints: readonly Endpoint[]
  readonly #byId = new Map<string, Endpoint>()
  #leader: Endpoint | null = null
  /** Where a round starts when no leader is known; moves past replicas that fail. */
  #cursor = 0

  constructor(id: string, replicas: ReadonlyArray<Endpoint & { readonly id?: string }>) {
    this.id = id
    this.endpoints = replicas.map((r) => ({ host: r.host, port: r.port }))
    replicas.forEach((r, i) => {
      if (r.id !== undefined) this.#byId.set(r.id, this.endpoints[i]!)
    })
  }

  get leader(): Endpoint | null {
    return this.#leader
  }

  has(endpoint: Endpoint): boolean {
    return this.#indexOf(endpoint) >= 0
  }

  /** The replica at `endpoint` says it is `nodeId`. */
  learn(endpoint: Endpoint, nodeId: string): void {
    const i = this.#indexOf(endpoint)
    if (i >= 0 && nodeId !== '') this.#byId.set(nodeId, this.endpoints[i]!)
  }

  endpointOf(nodeId: string): Endpoint | null {
    return this.#byId.get(nodeId) ?? null
  }

  /** The replica at `endpoint` answered as leader (or a replica named it leader). */
  believeLeader(endpoint: Endpoint): void {
    const i = this.#indexOf(endpoint)
    if (i >= 0) this.#leader = this.endpoints[i]!
  }

  /** The replica at `endpoint` failed or is not the leader: stop starting rounds there. */
  doubt(endpoint: Endpoint): void {
    const i = this.#indexOf(endpoint)
    if (i < 0) return
    if (this.#leader !== null && endpointKey(this.#leader) === endpointKey(endpoint)) this.#leader = null
    if (i === this.#cursor) this.#cursor = (i + 1) % this.endpoints.length
  }

  /** The order of one round: the believed leader first, then the others in turn. */
  roundOrder(): Endpoint[] {
    const n = this.endpoints.length
    const start = this.#leader === null ? this.#cursor : this.#indexOf(this.#leader)
    return Array.from({ length: n }, (_, k) => this.endpoints[(start + k) % n]!)
  }

  #indexOf(endpoint: Endpoint): number {
    const key = endpointKey(endpoint)
    return this.endpoints.findIndex((e) => endpointKey(e) === key)
  }
}

/**
 * Key → group: the one place routing is decided. Today a cluster has one group and every
 * key maps to it; the consistent-hashing ring and the shard map slot in here.
 */
export class Router {
  readonly groups: readonly ReplicaGroup[]

  constructor(groups: readonly ReplicaGroup[]) {
    if (groups.length === 0) throw new Error('a router needs at least one group')
    this.groups = groups
  }

  static fromConfig(config: ClusterConfig): Router {
    // One group for now (sharding comes later): groups[0] serves every key.
    const first = config.groups[0]
    if (first === undefined) throw new Error('cluster config without groups')
    return new Router([new ReplicaGroup(first.id, first.replicas)])
  }

  static fromEndpoints(endpoints: readonly Endpoint[]): Router {
    return new Router([new ReplicaGroup('default', endpoints)])
  }

  /** The group that owns `key`. */
  groupFor(_key: string): ReplicaGroup {
    return this.groups[0]!
  }

  /** The group that owns every one of `keys` (a batch must not span groups). */
  groupForAll(keys: readonly string[]): ReplicaGroup {
    return this.groupFor(keys[0] ?? '')
  }

  /** The group that has `endpoint`, for status queries to one replica. */
  groupWith(endpoint: Endpoint): ReplicaGroup | null {
    return this.groups.find((g) => g.has(endpoint)) ?? null
  }

  /** A replica welcomed us under `nodeId`: remember where it lives. */
  learn(endpoint: Endpoint, nodeId: string): void {
    for (const g of this.groups) g.learn(endpoint, nodeId)
  }
}
