import { isNotLeader, type NodeId } from '../types.js'
import type { CoreCluster } from './cluster.js'
import { runFaultProfile, PIPELINE_STORM } from './random-faults.js'
import { clusterFor, report, type Scenario } from './scenario.js'
import { awaitLeader, commitOn, expectLiveness, payload } from './scenario-steps.js'

/**
 * Scenarios of the Ready pipeline (several Readys in flight, see `Ready`): disks that stall,
 * so writes wait unsynced behind each other, and crashes that lose them. What they check,
 * beyond the monitor's safety properties (which see every apply, send and write):
 *
 * - a leader whose own writes wait does not apply (nor answer) what it has not written;
 * - followers whose writes wait acknowledge nothing, so nothing new commits;
 * - replicas whose writes wait cannot elect anyone (a vote counts only once durable);
 * - when the disks come back (or the node crashes and restarts), the group goes on.
 */

const ELECTION_TICKS = 400
const COMMIT_TICKS = 400
/** Shallow, so that a stalled node also reaches the bound and stops handing out Readys. */
const DEPTH = 4

/** Proposes `count` payloads to `leader`, one per tick; returns those it accepted. */
function proposeEach(cluster: CoreCluster, leader: NodeId, tag: string, count: number): Uint8Array[] {
  const accepted: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    const data = payload(cluster, `${tag}-${i}`)
    if (cluster.isAlive(leader) && !isNotLeader(cluster.propose(leader, data))) accepted.push(data)
    cluster.tick()
  }
  return accepted
}

/**
 * The leader's disk stalls while it goes on proposing: it keeps handing out Readys (their
 * AppendEntries or Accepts leave at once) and the followers write and acknowledge them, but the
 * leader applies none of them, since its own copy is not durable. Then either the leader
 * crashes, losing every write it had not synced (the group elects another and goes on, and the
 * old leader restarts from what it had synced), or its disk comes back and everything applies.
 */
export const stalledLeaderDisk: Scenario = (factory, o) => {
  const cluster = clusterFor(factory, o, { size: 3, maxReadysInFlight: DEPTH, network: { minDelayTicks: 1, maxDelayTicks: 2 } })
  awaitLeader(cluster, ELECTION_TICKS)
  commitOn(cluster, payload(cluster, 'warm-up'), COMMIT_TICKS)
  const leader = awaitLeader(cluster, ELECTION_TICKS)
  cluster.setDiskStalled(leader, true)
  const stalled = proposeEach(cluster, leader, 'stalled', 2 * DEPTH)
  cluster.tick(5)
  if (cluster.isAlive(leader) && cluster.readysInFlight(leader).handedOut < 2) {
    cluster.fail('scenario', [leader], `${leader} holds ${cluster.readysInFlight(leader).handedOut} Readys in flight with its disk stalled: it does not pipeline`)
  }
  for (const data of stalled) {
    if (cluster.appliedAt(leader, data) !== null) {
      cluster.fail('durability', [leader], `${leader} applied ${new TextDecoder().decode(data)} while its own write of it waits on a stalled disk`)
    }
  }
  if (o.seed % 2 === 0) {
    cluster.crash(leader) // every write it had not synced is lost
    cluster.setDiskStalled(leader, false)
    awaitLeader(cluster, ELECTION_TICKS, cluster.ids.filter((id) => id !== leader))
    cluster.restart(leader)
  } else {
    cluster.setDiskStalled(leader, false)
  }
  expectLiveness(cluster, 'after-leader-stall', ELECTION_TICKS + COMMIT_TICKS)
  // Proposals the leader accepted are offered again if they were lost with it.
  for (const data of stalled) commitOn(cluster, data, COMMIT_TICKS)
  return report(cluster)
}

/**
 * Every follower's disk stalls: they receive entries and hand out Readys, but acknowledge
 * nothing (their acknowledgements wait for their writes), so nothing new commits. One of them
 * crashes, losing what it had not synced, and restarts; then the other's disk comes back and
 * the group commits again, and finally everyone is back.
 */
export const stalledFollowerDisks: Scenario = (factory, o) => {
  const cluster = clusterFor(factory, o, { size: 3, maxReadysInFlight: DEPTH, network: { minDelayTicks: 1, maxDelayTicks: 2 } })
  awaitLeader(cluster, ELECTION_TICKS)
  commitOn(cluster, payload(cluster, 'warm-up'), COMMIT_TICKS)
  const leader = awaitLeader(cluster, ELECTION_TICKS)
  const followers = cluster.ids.filter((id) => id !== leader)
  for (const f of followers) cluster.setDiskStalled(f, true)
  const commitBefore = Math.max(...cluster.ids.map((id) => cluster.status(id)?.commitIndex ?? 0))
  const proposed = proposeEach(cluster, leader, 'unacked', 2 * DEPTH)
  cluster.tick(10)
  const commitAfter = Math.max(...cluster.ids.map((id) => cluster.status(id)?.commitIndex ?? 0))
  if (commitAfter > commitBefore) {
    cluster.fail('durability', cluster.ids, `the commit index moved from ${commitBefore} to ${commitAfter} while only ${leader} could write its disk`)
  }
  if (proposed.length > 0 && !followers.some((f) => cluster.readysInFlight(f).handedOut > 0)) {
    cluster.fail('scenario', followers, `no follower holds a Ready in flight after ${proposed.length} proposals: the stall tests nothing`)
  }
  const [crashed, released] = o.seed % 2 === 0 ? followers : [followers[1]!, followers[0]!]
  cluster.crash(crashed!)
  cluster.tick(3)
  cluster.restart(crashed!)
  cluster.setDiskStalled(released!, false)
  cluster.tick(20)
  cluster.setDiskStalled(crashed!, false)
  expectLiveness(cluster, 'after-follower-stall', ELECTION_TICKS + COMMIT_TICKS)
  for (const data of proposed) commitOn(cluster, data, COMMIT_TICKS)
  return report(cluster)
}

/**
 * The leader crashes while every other disk is stalled: terms, votes and promises cannot be
 * made durable, so no one can be elected (a vote counts only once written). Then the disks come
 * back one at a time, nodes bounce meanwhile, and the group elects a leader and goes on.
 */
export const stalledElection: Scenario = (factory, o) => {
  const size = o.seed % 2 === 0 ? 3 : 5
  const cluster = clusterFor(factory, o, { size, maxReadysInFlight: DEPTH, network: { minDelayTicks: 1, maxDelayTicks: 3 } })
  awaitLeader(cluster, ELECTION_TICKS)
  commitOn(cluster, payload(cluster, 'warm-up'), COMMIT_TICKS)
  const leader = awaitLeader(cluster, ELECTION_TICKS)
  const others = cluster.ids.filter((id) => id !== leader)
  for (const id of others) cluster.setDiskStalled(id, true)
  cluster.crash(leader)
  for (let t = 0; t < 150; t++) {
    cluster.tick()
    const elected = cluster.leader()
    if (elected !== null) {
      cluster.fail('durability', [elected], `${elected} was elected at term ${cluster.status(elected)?.term} while no disk but the crashed leader's could write`)
    }
  }
  const rng = cluster.random
  for (const id of others) {
    if (rng.chance(0.5)) {
      cluster.crash(id) // loses its unsynced term, vote or promise
      cluster.tick(1 + rng.int(3))
      cluster.restart(id)
    }
    cluster.setDiskStalled(id, false)
    cluster.tick(1 + rng.int(8))
  }
  cluster.restart(leader)
  expectLiveness(cluster, 'after-stalled-election', ELECTION_TICKS + COMMIT_TICKS)
  return report(cluster)
}

/**
 * A follower's unsynced write is overwritten by a newer leader's before it synced: the old
 * leader and one follower (its disk stalled) are cut off with the old leader's last entries in
 * the follower's pipeline; the old leader crashes, the partition heals and the others elect a
 * new leader, which overwrites the follower's copy (its first AppendEntries, or Accepts of other
 * values at those slots) while the old write is still in flight, and commits without it. When
 * the disk comes back, the old write completes first (in order): the follower must not take it
 * for the new value (Raft cuts it from what the old Ready makes durable; Paxos keeps the slot
 * waiting for the Ready of its latest write).
 */
export const overwrittenInFlight: Scenario = (factory, o) => {
  // The default depth: the follower must have room to hand out the overwrite behind the old write.
  const cluster = clusterFor(factory, o, { size: 5, network: { minDelayTicks: 1, maxDelayTicks: 2 } })
  awaitLeader(cluster, ELECTION_TICKS)
  commitOn(cluster, payload(cluster, 'warm-up'), COMMIT_TICKS)
  const old = awaitLeader(cluster, ELECTION_TICKS)
  const others = cluster.ids.filter((id) => id !== old)
  const follower = others[cluster.random.int(others.length)]!
  const majority = others.filter((id) => id !== follower)
  cluster.partition([[old, follower], majority])
  cluster.setDiskStalled(follower, true)
  proposeEach(cluster, old, 'stranded', 3)
  cluster.tick(3)
  const before = cluster.readysInFlight(follower).handedOut
  cluster.crash(old)
  cluster.heal()
  awaitLeader(cluster, ELECTION_TICKS, majority)
  for (let i = 0; i < 3; i++) commitOn(cluster, payload(cluster, `majority-${i}`), COMMIT_TICKS, majority)
  cluster.tick(10)
  const after = cluster.readysInFlight(follower).handedOut
  if (before === 0 || after <= before) {
    cluster.fail('scenario', [follower], `${follower} held ${before} Readys in flight before the new leader and ${after} after: the scenario tests nothing`)
  }
  cluster.setDiskStalled(follower, false)
  cluster.restart(old)
  expectLiveness(cluster, 'after-overwrite', ELECTION_TICKS + COMMIT_TICKS)
  return report(cluster)
}

/** Random faults aimed at the Ready pipeline (see `PIPELINE_STORM`). */
export const pipelineStorm: Scenario = (factory, o) => runFaultProfile(PIPELINE_STORM, factory, o)
