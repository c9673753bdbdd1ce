import { applyChange, isMember, isMembershipRefusal, sameMembership, type Membership, type MembershipChange } from '../membership.js'
import { isNotLeader, type NodeId } from '../types.js'
import type { CoreCluster } from './cluster.js'
import { utf8 } from './identity.js'
import { clusterFor, report, type Scenario } from './scenario.js'
import { awaitLeader, commitOn, payload } from './scenario-steps.js'

const ELECTION_TICKS = 400
const CHANGE_TICKS = 1_500
const COMMIT_TICKS = 600

/** The live members of the group as `leader` sees it. */
function liveMembers(cluster: CoreCluster, membership: Membership): NodeId[] {
  return cluster.ids.filter((id) => cluster.isAlive(id) && isMember(membership, id))
}

/**
 * Get `change` made: offer it to whoever leads until one takes it (a core refuses while a
 * change is pending, a learner catches up, or its own term has no entry committed: each
 * tick a filler proposal keeps the log moving, which is what lets a Paxos change take effect
 * α slots on), and again to a new leader, then wait until a leader has it in force.
 */
function makeChange(cluster: CoreCluster, change: Omit<MembershipChange, 'context'>, tag: string): Membership {
  let expected: Membership | null = null
  let offered: { leader: NodeId; term: number } | null = null
  let fill = 0
  cluster.awaitCondition((c) => {
    const leader = c.leader()
    if (leader === null) return false
    const status = c.status(leader)!
    if (expected !== null && sameMembership(status.membership, expected)) return true
    // Offered to no leader yet, or to one since replaced (the change may be lost with it).
    if (offered === null || offered.leader !== leader || offered.term !== status.term) {
      const full = { ...change, context: utf8(`addr:${change.id}`) }
      const next = applyChange(status.membership, full)
      const result = c.proposeMembership(leader, full)
      if (!isMembershipRefusal(result) && !isNotLeader(result) && !isMembershipRefusal(next)) {
        expected = next
        offered = { leader, term: status.term }
      }
    }
    c.propose(leader, payload(c, `${tag}-fill-${fill++}`))
    return false
  }, CHANGE_TICKS, `${change.type} ${change.id}`)
  return expected!
}

/**
 * Membership changes under faults (issue 15): a brand-new node joins as a learner and is
 * promoted once caught up, the leader removes itself, a voter crashes for good and is replaced
 * by another brand-new node (learner, promotion, removal of the dead one), with a lossy network
 * and compaction, so that the newcomers catch up by snapshot. Every step must keep the safety
 * properties the cluster checks, and the group must commit after each one with its new voters.
 */
export const membershipChanges: Scenario = (factory, o) => {
  const cluster = clusterFor(factory, o, { size: 3, network: { minDelayTicks: 1, maxDelayTicks: 3, dropRate: 0.02 }, compactEvery: 10 })
  awaitLeader(cluster, ELECTION_TICKS)
  for (let i = 0; i < 15; i++) commitOn(cluster, payload(cluster, `before-${i}`), COMMIT_TICKS)
  cluster.addNode('n4')
  makeChange(cluster, { type: 'add-learner', id: 'n4' }, 'add-n4')
  let membership = makeChange(cluster, { type: 'promote', id: 'n4' }, 'promote-n4')
  commitOn(cluster, payload(cluster, 'with-n4'), COMMIT_TICKS, liveMembers(cluster, membership))
  const leader = awaitLeader(cluster, ELECTION_TICKS)
  membership = makeChange(cluster, { type: 'remove', id: leader }, 'remove-leader')
  commitOn(cluster, payload(cluster, 'without-leader'), COMMIT_TICKS, liveMembers(cluster, membership))
  const dead = membership.voters.find((id) => id !== cluster.leader())!
  cluster.crash(dead)
  cluster.addNode('n5')
  makeChange(cluster, { type: 'add-learner', id: 'n5' }, 'add-n5')
  makeChange(cluster, { type: 'promote', id: 'n5' }, 'promote-n5')
  membership = makeChange(cluster, { type: 'remove', id: dead }, 'remove-dead')
  if (membership.voters.length !== 3 || membership.voters.includes(dead) || membership.voters.includes(leader)) {
    cluster.fail('scenario', membership.voters, `voters ${membership.voters.join(', ')} after replacing ${dead} and removing ${leader}`)
  }
  cluster.setDropRate(0)
  commitOn(cluster, payload(cluster, 'after'), COMMIT_TICKS, liveMembers(cluster, membership))
  return report(cluster)
}
