/**
 * Faults about leadership: forced transfers, duels of proposers with a bouncing voter, leader
 * hunts (partitions that follow the leader), and the watch that makes a Paxos leader that
 * skipped slots hand over. Each is drawn from the run's PRNG through the nemesis's scope.
 */
import type { FaultScope, NemesisGroup } from './fault-kinds.js'
import type { SimNode } from './node.js'

/** The leader hands over to a random peer through the core's `transferLeadership`. */
export function transfer(s: FaultScope, group: NemesisGroup): void {
  const leader = s.leaderOf(group)
  if (leader === null) return
  const to = s.pickOne(group.nodes.filter((n) => n !== leader))
  s.log(`transfer ${leader.id} -> ${to.id}`)
  leader.transferLeadership(to.id)
}

/**
 * Two proposers at once, and a voter that bounces between their requests.
 *
 * Raft: the leader L hands over to A and, once A campaigns, to B as well: two candidates
 * in one term. A's messages to B are slow (B must not follow A before it campaigns), and so
 * are B's from the moment it campaigns. A voter V (L, in a group of three) crashes right
 * after it sent its next vote and is back before B's request reaches it: a voter that did
 * not make its vote durable votes twice in one term.
 *
 * Paxos: L hands over to A (and sometimes B), whose messages to L are slow, so L leads on
 * beside them: two ballots at once. V (never L) crashes right after its next promise and
 * is back before L's next Accept: an acceptor that did not make its promise durable
 * accepts below it.
 */
export function duel(s: FaultScope, group: NemesisGroup): void {
  const leader = s.leaderOf(group)
  if (leader === null) return
  const others = group.nodes.filter((n) => n !== leader && n.alive && !n.paused)
  if (others.length === 0) return
  const raft = group.protocol === 'raft'
  const a = s.pickOne(others)
  const rest = others.filter((n) => n !== a)
  const b = rest.length > 0 && (raft || s.rng.chance(0.5)) ? s.pickOne(rest) : null
  if (raft && b === null) return
  const slowMs = 2 + s.rng.next() * 48
  const slowed: Array<[SimNode, SimNode]> = []
  const slow = (pairs: Array<[SimNode, SimNode]>) => {
    for (const [from, to] of pairs) s.net.slowLink(from.id, to.id, slowMs)
    slowed.push(...pairs)
  }
  slow(raft ? [[a, b!]] : [a, ...(b === null ? [] : [b])].map((c): [SimNode, SimNode] => [c, leader]))
  s.queue.after(slowMs + 120, () => {
    for (const [from, to] of slowed) s.net.slowLink(from.id, to.id, 0)
  })
  const voters = group.nodes.filter((n) => n !== a && n !== b && (raft || n !== leader) && n.alive && !n.paused)
  let bounce = ''
  if (voters.length > 0 && s.rng.chance(0.75)) {
    const voter = s.pickOne(voters)
    const restartMs = 0.5 + s.rng.next() * Math.min(slowMs, 10)
    voter.armCrashPoint({ when: 'after-send', on: 'promise', then: (n) => s.crashedAtPoint(n, 'after its promise', restartMs) })
    bounce = `; ${voter.id} crashes after its next promise, back ${restartMs.toFixed(1)}ms later`
  }
  s.log(`duel ${a.id}${b === null ? '' : ` and ${b.id}`} against ${leader.id} (messages +${slowMs.toFixed(1)}ms${bounce})`)
  leader.transferLeadership(a.id)
  if (b === null) return
  if (!raft) return leader.transferLeadership(b.id)
  // Raft sends TimeoutNow only to a target that holds the whole log, and to one at a time:
  // hand over to B once A campaigns, while L still leads; slow B down once it campaigns.
  const until = s.queue.now + 20
  let handedOver = false
  const watch = () => {
    if (!handedOver) {
      const role = a.replica?.core.status().role
      if (role === 'candidate' || role === 'leader') {
        if (leader.paused || leader.replica?.core.status().role !== 'leader') return
        leader.transferLeadership(b.id)
        handedOver = true
      }
    } else if (b.replica?.core.status().role === 'candidate') {
      return slow(group.nodes.filter((n) => n !== b).map((n): [SimNode, SimNode] => [b, n]))
    }
    if (s.queue.now < until) s.queue.after(0.1, watch)
  }
  s.queue.after(0.1, watch)
}

/**
 * For 3..15 election timeouts, each new leader of the group is cut off from its peers
 * 0.1..20 ms (log-uniform) after the hunt first sees it lead, and the replica cut off before
 * rejoins them. Often within a round trip: before its first entry reached anyone.
 */
export function huntLeaders(s: FaultScope, group: NemesisGroup): void {
  const ms = (3 + s.rng.int(13)) * s.context.electionTimeoutMs
  const until = s.queue.now + ms
  s.log(`leader hunt in ${group.id} for ${ms.toFixed(0)}ms`)
  let isolated: SimNode | null = null
  let generation = -1
  let spotted: { node: SimNode; at: number; afterMs: number } | null = null
  const hunt = () => {
    // Another partition replaced ours: this hunt is over.
    if (!s.active || (generation !== -1 && s.net.generation !== generation)) return
    if (s.queue.now >= until) {
      s.net.healSides()
      s.log(`leader hunt in ${group.id} ends`)
      return
    }
    const leader = s.leaderOf(group)
    if (leader !== null && leader !== isolated) {
      if (spotted?.node !== leader) spotted = { node: leader, at: s.queue.now, afterMs: 0.1 * Math.pow(200, s.rng.next()) }
      if (s.queue.now - spotted.at >= spotted.afterMs) {
        isolated = leader
        s.net.partition([[leader.id], group.nodes.filter((n) => n !== leader).map((n) => n.id)])
        generation = s.net.generation
        s.log(`isolate leader ${leader.id}`)
      }
    }
    s.queue.after(0.5, hunt)
  }
  hunt()
}

/**
 * A Paxos leader configured with `skipSlots` leaves those slots empty, and nothing above a
 * hole executes until another leader fills it with a noop. Nothing deposes a healthy leader
 * by itself, so this watch does (it keeps running after the faults stop): a leader whose
 * log has passed a skipped slot its group has not chosen yet for `holeHoldMs` hands over to
 * another replica, or (while faults run, one time in three) crashes and comes back.
 */
export class HoleWatch {
  private readonly holes = new Map<string, { slot: number; since: number }>()

  constructor(
    private readonly s: FaultScope,
    private readonly groups: readonly NemesisGroup[],
  ) {}

  start(): void {
    const everyMs = this.s.context.electionTimeoutMs / 2
    const check = () => {
      for (const g of this.groups) if (g.protocol === 'paxos') this.check(g)
      this.s.queue.after(everyMs, check)
    }
    this.s.queue.after(everyMs, check)
  }

  private check(g: NemesisGroup): void {
    const s = this.s
    const leader = s.leaderOf(g)
    const status = leader?.replica?.core.status()
    const slot = status === undefined ? undefined : s.options.skipSlots.find((x) => x > status.commitIndex && x <= status.lastIndex)
    if (leader === null || slot === undefined) {
      this.holes.delete(g.id)
      return
    }
    const hole = this.holes.get(g.id)
    if (hole === undefined || hole.slot !== slot) {
      this.holes.set(g.id, { slot, since: s.queue.now })
      return
    }
    if (s.queue.now - hole.since < s.options.holeHoldMs) return
    hole.since = s.queue.now
    const others = g.nodes.filter((n) => n !== leader)
    if (s.active && s.rng.chance(1 / 3)) {
      leader.crash()
      const back = 20 + s.rng.next() * 200
      s.log(`hole at ${g.id} slot ${slot}: leader ${leader.id} crashes, back in ${back.toFixed(0)}ms`)
      s.queue.after(back, () => {
        if (!leader.alive) leader.start()
      })
      return
    }
    const to = s.pickOne(others)
    s.log(`hole at ${g.id} slot ${slot}: transfer ${leader.id} -> ${to.id}`)
    leader.transferLeadership(to.id)
  }
}
