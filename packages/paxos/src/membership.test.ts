import { describe, expect, it } from 'vitest'
import { isMembershipRefusal, isNotLeader, PROMOTE_MAX_LAG_ENTRIES, type PeerMessage } from '@kv/consensus'
import type { Accept } from './messages.js'
import { TestCluster } from './test-cluster.js'

const ALPHA = 4

function cluster(seed: number, size = 3, extra: Record<string, unknown> = {}): TestCluster {
  const options = { alpha: ALPHA, ...extra }
  const nodeOptions = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`n${i + 1}`, options]))
  return new TestCluster({ size, seed, nodeOptions })
}

function refusal(result: unknown): string | null {
  return isMembershipRefusal(result) ? result.reason : null
}

function slotOf(result: unknown): number {
  if (typeof result !== 'object' || result === null || !('index' in result)) throw new Error(`refused: ${JSON.stringify(result)}`)
  return (result as { index: number }).index
}

/** Proposes on `leader` until its watermark is past `slot` (the alpha rule is then satisfied for a next change). */
function fillPast(c: TestCluster, leader: string, slot: number): void {
  for (let i = 0; c.core(leader).status().commitIndex < slot && i < 300; i++) {
    c.core(leader).propose(new TextEncoder().encode(`fill${i}`))
    c.run(1)
  }
}

/** n1 leads n1..n3; n4 joined as a learner and caught up; the change is in effect. */
function withLearner(seed: number, extra: Record<string, unknown> = {}): { c: TestCluster; leader: string } {
  const c = cluster(seed, 3, extra)
  const leader = c.waitForLeader()
  c.addNode('n4')
  const at = slotOf(c.changeMembership(leader, { type: 'add-learner', id: 'n4' }))
  c.run(3)
  fillPast(c, leader, at + ALPHA)
  return { c, leader }
}

const acceptsTo = (c: TestCluster, id: string): Accept[] =>
  c.sent.filter((m): m is PeerMessage & Accept => m.type === 'accept' && m.to === id)

describe('reconfiguration through the log (alpha rule)', () => {
  it('a membership chosen at slot i governs slots from i + α on', () => {
    const { c, leader } = withLearner(1)
    const p = slotOf(c.changeMembership(leader, { type: 'promote', id: 'n4' }))
    // Not in force before slot p + α (the leader fills those slots with no-ops at once).
    expect(c.core(leader).status().membership.voters).not.toContain('n4')
    c.run(3)
    expect(c.core(leader).status().commitIndex).toBeGreaterThanOrEqual(p)
    // Two of n1..n3 choose slots below p + α; from p + α on, three of n1..n4 must.
    const others = ['n1', 'n2', 'n3'].filter((id) => id !== leader)
    c.crash(others[0]!)
    c.crash('n4')
    for (let i = 0; i < 2 * ALPHA; i++) c.core(leader).propose(new TextEncoder().encode(`v${i}`))
    c.run(10)
    expect(c.core(leader).status().commitIndex).toBe(p + ALPHA - 1)
    expect(c.core(leader).status().membership.voters).toContain('n4')
  })

  it('the leader never proposes more than α slots past the chosen prefix', () => {
    const c = cluster(2)
    const leader = c.waitForLeader()
    const chosen = c.core(leader).status().commitIndex
    c.isolate(leader)
    for (let i = 0; i < 3 * ALPHA; i++) c.core(leader).propose(new TextEncoder().encode(`v${i}`))
    c.run(3)
    const proposed = c.sent.filter((m): m is PeerMessage & Accept => m.type === 'accept' && m.from === leader).flatMap((m) => m.entries.map((e) => e.index))
    expect(Math.max(...proposed)).toBe(chosen + ALPHA)
    c.heal()
    c.run(20)
    expect(c.app(leader).log.filter((v) => v.startsWith('v'))).toHaveLength(3 * ALPHA)
  })

  it('a learner learns the chosen values but is no acceptor: it gets no Accept, and its answers choose nothing', () => {
    const { c, leader } = withLearner(3)
    c.core(leader).propose(new TextEncoder().encode('x'))
    c.run(5)
    expect(acceptsTo(c, 'n4')).toEqual([])
    expect(c.app('n4').log).toEqual(c.app(leader).log)
    const others = ['n1', 'n2', 'n3'].filter((id) => id !== leader)
    c.partition([leader, 'n4'], others)
    const before = c.core(leader).status().commitIndex
    c.core(leader).propose(new TextEncoder().encode('y'))
    c.run(3)
    expect(c.core(leader).status().commitIndex).toBe(before)
  })

  it('takes one change at a time: the next only once the last is chosen and in effect', () => {
    const c = cluster(4)
    const leader = c.waitForLeader()
    c.addNode('n4')
    c.addNode('n5')
    const at = slotOf(c.changeMembership(leader, { type: 'add-learner', id: 'n4' }))
    expect(refusal(c.changeMembership(leader, { type: 'add-learner', id: 'n5' }))).toBe('change-pending')
    c.run(3)
    expect(c.core(leader).status().commitIndex).toBeGreaterThanOrEqual(at)
    if (c.core(leader).status().commitIndex < at + ALPHA - 1) {
      expect(refusal(c.changeMembership(leader, { type: 'add-learner', id: 'n5' }))).toBe('change-pending')
    }
    fillPast(c, leader, at + ALPHA)
    expect(refusal(c.changeMembership(leader, { type: 'add-learner', id: 'n5' }))).toBeNull()
  })

  it('in a group with no writes, a change takes effect: the leader fills the α slots after it with no-ops', () => {
    const c = cluster(6)
    const leader = c.waitForLeader()
    c.addNode('n4')
    c.addNode('n5')
    const at = slotOf(c.changeMembership(leader, { type: 'add-learner', id: 'n4' }))
    c.run(8)
    // No write was proposed: the no-ops alone moved the watermark to where the change governs.
    expect(c.core(leader).status().commitIndex).toBeGreaterThanOrEqual(at + ALPHA - 1)
    expect(refusal(c.changeMembership(leader, { type: 'add-learner', id: 'n5' }))).toBeNull()
  })

  it('refuses a change the membership cannot take, and answers not-leader on a follower', () => {
    const c = cluster(5, 1)
    const leader = c.waitForLeader()
    expect(refusal(c.changeMembership(leader, { type: 'remove', id: leader }))).toBe('last-voter')
    expect(refusal(c.changeMembership(leader, { type: 'promote', id: 'n9' }))).toBe('unknown-id')
    expect(refusal(c.changeMembership(leader, { type: 'add-learner', id: leader }))).toBe('already-admitted')
    const three = cluster(5)
    const l3 = three.waitForLeader()
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== l3)!
    expect(three.changeMembership(follower, { type: 'add-learner', id: 'n4' })).toSatisfy(isNotLeader)
  })

  it('promotes a learner only once it has caught up', () => {
    const c = cluster(6)
    const leader = c.waitForLeader()
    c.addNode('n4')
    c.crash('n4')
    const at = slotOf(c.changeMembership(leader, { type: 'add-learner', id: 'n4' }))
    c.run(2)
    fillPast(c, leader, Math.max(at + ALPHA, PROMOTE_MAX_LAG_ENTRIES + 2))
    expect(refusal(c.changeMembership(leader, { type: 'promote', id: 'n4' }))).toBe('not-caught-up')
    c.start('n4')
    c.run(20)
    expect(refusal(c.changeMembership(leader, { type: 'promote', id: 'n4' }))).toBeNull()
  })

  it('a learner never starts a view change', () => {
    const { c, leader } = withLearner(7)
    for (const id of ['n1', 'n2', 'n3']) c.crash(id)
    void leader
    const sentBefore = c.sent.length
    for (let i = 0; i < 100; i++) c.core('n4').tick()
    while (c.processReady('n4')) { /* drain */ }
    expect(c.sent.slice(sentBefore).filter((m) => m.type === 'pre-prepare' || m.type === 'prepare')).toEqual([])
  })

  it('recovery asks the acceptors of every membership it recovers: a new voter the promises reveal must promise too', () => {
    // Without pre-vote, so that `b` runs phase 1 as soon as its timer fires (only it ticks).
    const { c, leader } = withLearner(8, { preVote: false })
    const [a, b] = ['n1', 'n2', 'n3'].filter((id) => id !== leader) as [string, string]
    // The promotion is chosen by the leader and `a`; `b` never hears of it.
    c.filter = (m) => m.to !== b || m.type === 'prepare'
    slotOf(c.changeMembership(leader, { type: 'promote', id: 'n4' }))
    c.run(2)
    c.filter = () => true
    c.crash(leader)
    // `a`'s promise and its own are a majority of n1..n3, the membership `b` knows in force;
    // but `a` reports the promotion, so `b` needs a majority of n1..n4 too: n4's promise.
    c.crash('n4')
    const before = c.sent.length
    for (let i = 0; i < 60; i++) {
      c.core(b).tick()
      c.stabilize()
    }
    const sentByB = c.sent.slice(before).filter((m) => m.from === b)
    expect(sentByB.some((m) => m.type === 'prepare' && m.to === 'n4')).toBe(true)
    // It never led: no Accept, no heartbeat of a ballot of its own.
    expect(sentByB.filter((m) => m.type === 'accept' || m.type === 'heartbeat')).toEqual([])
    c.start('n4')
    const next = c.waitForLeader()
    expect([a, b]).toContain(next)
    c.core(next).propose(new TextEncoder().encode('after'))
    c.run(10)
    expect(c.app('n4').log).toContain('after')
  })

  it('a leader whose removal is chosen stops leading, and another leads on', () => {
    const c = cluster(9)
    const leader = c.waitForLeader()
    const removal = slotOf(c.changeMembership(leader, { type: 'remove', id: leader }))
    c.run(5)
    expect(c.core(leader).status().role).not.toBe('leader')
    const next = c.waitForLeader()
    expect(next).not.toBe(leader)
    c.core(next).propose(new TextEncoder().encode('after'))
    c.run(10)
    expect(c.app(next).log).toContain('after')
    fillPast(c, next, removal + ALPHA)
    expect(c.core(next).status().membership.voters).not.toContain(leader)
  })

  it('replaces a crashed acceptor by a brand-new replica, which catches up by snapshot', () => {
    const c = cluster(10)
    const leader = c.waitForLeader()
    for (let i = 0; i < 10; i++) c.core(leader).propose(new TextEncoder().encode(`v${i}`))
    c.run(5)
    const dead = ['n1', 'n2', 'n3'].find((id) => id !== leader)!
    c.crash(dead)
    c.compact(leader)
    c.addNode('n4')
    const add = slotOf(c.changeMembership(leader, { type: 'add-learner', id: 'n4' }))
    c.run(10)
    fillPast(c, leader, add + ALPHA)
    const promote = slotOf(c.changeMembership(leader, { type: 'promote', id: 'n4' }))
    fillPast(c, leader, promote + ALPHA)
    const removal = slotOf(c.changeMembership(leader, { type: 'remove', id: dead }))
    fillPast(c, leader, removal + ALPHA)
    expect(c.core(leader).status().membership.voters).toEqual(['n1', 'n2', 'n3', 'n4'].filter((id) => id !== dead))
    expect(c.app('n4').log.slice(0, 12)).toEqual(c.app(leader).log.slice(0, 12))
  })

  it('a snapshot taken within α of a change carries both memberships: a restarted replica still leads correctly', () => {
    const { c, leader } = withLearner(11)
    const promote = slotOf(c.changeMembership(leader, { type: 'promote', id: 'n4' }))
    c.run(2)
    for (const id of c.ids) c.compact(id)
    for (const id of c.ids) c.crash(id)
    for (const id of c.ids) c.start(id)
    const next = c.waitForLeader()
    c.core(next).propose(new TextEncoder().encode('after restart'))
    c.run(10)
    for (const id of c.ids) expect(c.app(id).log).toContain('after restart')
    fillPast(c, next, promote + ALPHA)
    expect(c.core(next).status().membership.voters).toContain('n4')
  })
})
