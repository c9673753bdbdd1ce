import { isMember, isMembershipRefusal, isNotLeader, type MembershipChange } from '@kv/consensus'
import type { FaultScope, NemesisGroup } from './fault-kinds.js'
import type { SimNode } from './node.js'

/** Voters a group keeps between (it starts at 3 or 5). */
const MIN_VOTERS = 3
const MAX_MEMBERS = 6

const encoder = new TextEncoder()

/** How the nemesis starts brand-new replicas (the world's `addReplica`). */
export interface NewReplicas {
  /** The id the next replica of `group` will have. */
  nextId(group: NemesisGroup): string
  start(group: NemesisGroup, id: string): SimNode
}

/**
 * Membership changes as a fault (issue 15), on their own clock so that most seeds make some
 * whatever their swarm weights: about every two nemesis intervals, one step on one group,
 * through its leader's core (as `kv member` will, through the shell):
 *
 * - a learner in the membership is promoted (the core refuses until it caught up: tried again
 *   next step), or removed if its replica is down;
 * - else, with more than the minimum of voters, one is removed: a crashed one first (the
 *   second half of replacing it), else a random one, the leader a third of the time;
 * - else a brand-new, empty replica is started and added as a learner (replacing a crashed
 *   voter, or growing the group).
 *
 * A removed replica is retired (crashed for good) once a replica that committed its removal
 * shows it out of the membership in force (Paxos: α slots after the removal was chosen; until
 * then it is still an acceptor of the slots between); until then it runs on, as a real one
 * would until its operator stops it. The core's refusals (a change
 * pending, not caught up, not leading) are part of the fault: they are logged, not retried.
 */
export class MembershipChanges {
  private added = 0
  private readonly removals: Array<{ readonly node: SimNode; readonly group: NemesisGroup; readonly index: number }> = []

  constructor(
    private readonly scope: FaultScope,
    private readonly groups: readonly NemesisGroup[],
    private readonly replicas: NewReplicas,
  ) {}

  start(): void {
    const s = this.scope
    s.queue.after(s.options.intervalMs * (1 + 2 * s.rng.next()), () => {
      if (!s.active) return
      this.retireRemoved()
      this.step(s.pickOne(this.groups))
      this.start()
    })
  }

  private step(group: NemesisGroup): void {
    const leader = this.scope.leaderOf(group)
    if (leader?.replica == null) return
    const { membership } = leader.replica.core.status()
    const nodeOf = (id: string): SimNode | undefined => group.nodes.find((n) => n.id === id)
    const learner = membership.learners[0]
    if (learner !== undefined) {
      this.propose(group, leader, nodeOf(learner)?.alive === true ? 'promote' : 'remove', learner)
      return
    }
    const dead = membership.voters.filter((id) => nodeOf(id)?.alive === false)
    if (membership.voters.length > MIN_VOTERS && (dead.length > 0 || this.scope.rng.chance(0.5))) {
      const victim = dead[0] ?? (this.scope.rng.chance(1 / 3) ? leader.id : this.scope.pickOne(membership.voters))
      this.propose(group, leader, 'remove', victim)
      return
    }
    if (membership.voters.length + membership.learners.length >= MAX_MEMBERS) return
    const id = this.replicas.nextId(group)
    // The replica starts once a leader took the change (its first messages may be lost meanwhile).
    if (this.propose(group, leader, 'add-learner', id)) {
      this.replicas.start(group, id)
      this.added++
    }
  }

  /** Returns whether the leader took the change. */
  private propose(group: NemesisGroup, leader: SimNode, type: MembershipChange['type'], id: string): boolean {
    const result = leader.proposeMembership({ type, id, context: encoder.encode(`sim:${id}`) })
    if (result === null) return false
    const what = `membership ${group.id}: ${type} ${id} at ${leader.id}`
    if (isMembershipRefusal(result)) {
      this.scope.log(`${what} refused (${result.reason})`)
      return false
    }
    if (isNotLeader(result)) {
      this.scope.log(`${what} refused (not leader)`)
      return false
    }
    this.scope.log(`${what} → index ${result.index}`)
    const node = group.nodes.find((n) => n.id === id)
    if (type === 'remove' && node !== undefined) this.removals.push({ node, group, index: result.index })
    return true
  }

  /** Retires the replicas whose removal a live replica of their group has committed. */
  private retireRemoved(): void {
    for (let i = this.removals.length - 1; i >= 0; i--) {
      const { node, group, index } = this.removals[i]!
      // A removal lost with its leader stays here: it is never seen in force (the list is short).
      const done = node.retired || group.nodes.some((other) => {
        const status = other.replica?.core.status()
        return status !== undefined && status.commitIndex >= index && !isMember(status.membership, node.id)
      })
      if (!done) continue
      if (!node.retired) {
        node.retire()
        this.scope.log(`retire ${node.id} (removed from ${group.id})`)
      }
      this.removals.splice(i, 1)
    }
  }

  /** Replicas added so far (for tests). */
  get replicasAdded(): number {
    return this.added
  }
}
