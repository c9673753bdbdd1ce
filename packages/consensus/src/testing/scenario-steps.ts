import type { NodeId, ProposeResult } from '../types.js'
import { isNotLeader } from '../types.js'
import type { CoreCluster } from './cluster.js'
import { utf8 } from './identity.js'

/** A proposal payload unique within a run: `<seed>/<tag>`. */
export function payload(cluster: CoreCluster, tag: string): Uint8Array {
  return utf8(`${cluster.seed}/${tag}`)
}

/** Tick until there is a leader; fail with a liveness error otherwise. */
export function awaitLeader(cluster: CoreCluster, maxTicks: number, among?: readonly NodeId[]): NodeId {
  let leader: NodeId | null = null
  cluster.awaitCondition((c) => {
    leader = c.leader()
    return leader !== null && (among === undefined || among.includes(leader))
  }, maxTicks, among === undefined ? 'electing a leader' : `electing a leader among ${among.join(', ')}`)
  return leader!
}

function appliedOnAll(cluster: CoreCluster, data: Uint8Array, on: readonly NodeId[]): boolean {
  return on.every((id) => cluster.isAlive(id) && cluster.appliedAt(id, data) !== null)
}

/**
 * Get `data` committed and applied on every node of `on` (default: all live nodes): offer it
 * to the current leader, and offer it again whenever leadership moved on while it was pending
 * (a proposal may be lost with its leader). Fails with a liveness error after `maxTicks`.
 */
export function commitOn(cluster: CoreCluster, data: Uint8Array, maxTicks: number, on: readonly NodeId[] = cluster.liveIds()): void {
  let offered: { leader: NodeId; term: number } | null = null
  cluster.awaitCondition((c) => {
    if (appliedOnAll(c, data, on)) return true
    const leader = c.leader()
    if (leader === null || !on.includes(leader) || c.ids.some((id) => c.isAlive(id) && c.appliedAt(id, data) !== null)) return false
    const term = c.status(leader)?.term ?? 0
    if (offered === null || offered.leader !== leader || offered.term !== term) {
      const result = c.propose(leader, data)
      if (!isNotLeader(result)) offered = { leader, term }
    }
    return false
  }, maxTicks, `committing ${new TextDecoder().decode(data)} on ${on.join(', ')}`)
}

/** Offer `data` to `nodeId` and require that it is accepted. */
export function proposeAccepted(cluster: CoreCluster, nodeId: NodeId, data: Uint8Array): { index: number; term: number } {
  const result: ProposeResult = cluster.propose(nodeId, data)
  if (isNotLeader(result)) {
    cluster.fail('scenario', [nodeId], `${nodeId} leads (term ${cluster.status(nodeId)?.term}) but refused a proposal (leader hint ${result.leader})`)
  }
  return result
}

/**
 * Liveness after faults end: within `maxTicks` there is a leader and a fresh proposal is
 * applied on every live node.
 */
export function expectLiveness(cluster: CoreCluster, tag: string, maxTicks: number): void {
  const start = cluster.now
  awaitLeader(cluster, maxTicks)
  commitOn(cluster, payload(cluster, tag), Math.max(1, maxTicks - (cluster.now - start)))
}

/** Fail unless every node in `on` applied every payload, in the given order. */
export function expectAppliedInOrder(cluster: CoreCluster, payloads: readonly Uint8Array[], on: readonly NodeId[]): void {
  for (const id of on) {
    let previous = 0
    payloads.forEach((data, i) => {
      const at = cluster.appliedAt(id, data)
      if (at === null || at <= previous) {
        cluster.fail('scenario', [id], `${id} applied proposal #${i} at ${at ?? 'no index'}, after #${i - 1} at ${previous}: proposals to one leader must apply in order`)
      }
      previous = at
    })
  }
}

/** The last index a (possibly crashed) node holds durably. */
export function durableLastIndex(cluster: CoreCluster, id: NodeId): number {
  const disk = cluster.disk(id)
  return disk.indexes().at(-1) ?? disk.snapshotIndex
}
