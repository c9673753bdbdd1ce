import { HashRing } from '@kv/hashring'
import type { GroupSpec } from '../cluster-spec.js'
import type { ShardMap } from '../shard-map.js'

/**
 * Key → group under one shard map: the routing rule every client uses (`@kv/client` and the
 * simulator's clients), the same ring the groups use to decide what they serve.
 */
export class ShardRouter {
  readonly map: ShardMap
  readonly #ring: HashRing
  readonly #groups: ReadonlyMap<string, GroupSpec>

  constructor(map: ShardMap) {
    this.map = map
    this.#ring = new HashRing({ groups: map.groups.map((g) => g.id), vnodesPerGroup: map.vnodesPerGroup })
    this.#groups = new Map(map.groups.map((g) => [g.id, g]))
  }

  get epoch(): number {
    return this.map.epoch
  }

  groupOf(key: string): GroupSpec {
    return this.#groups.get(this.#ring.ownerOf(key))!
  }

  /** `keys` by owning group, each with the positions of its keys (in order). */
  split(keys: readonly string[]): Map<string, number[]> {
    const parts = new Map<string, number[]>()
    keys.forEach((key, i) => {
      const id = this.#ring.ownerOf(key)
      const part = parts.get(id)
      if (part === undefined) parts.set(id, [i])
      else part.push(i)
    })
    return parts
  }
}
