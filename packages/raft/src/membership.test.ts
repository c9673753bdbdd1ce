import { describe, expect, it } from 'vitest'
import { createRng, initialMembership, isMembershipRefusal, isNotLeader, PROMOTE_MAX_LAG_ENTRIES, type Entry, type Membership } from '@kv/consensus'
import { createRaft } from './index.js'
import { Cluster, bytes } from './test-cluster.js'

function membershipOf(c: Cluster, id: string): Membership {
  return c.core(id).status().membership
}

function refusal(result: unknown): string | null {
  return isMembershipRefusal(result) ? result.reason : null
}

/** Ticks only `ids` (the others' timers stand still) until one of them leads. */
function electAmong(c: Cluster, ids: string[]): string {
  for (let i = 0; i < 200; i++) {
    c.tick(1, ids)
    c.deliverAll()
    const leader = ids.find((id) => c.core(id).status().role === 'leader')
    if (leader !== undefined) return leader
  }
  throw new Error(`none of ${ids.join(', ')} was elected`)
}

/** n1 leads n1..n3 and n4 joins as a caught-up learner. */
function withLearner(seed = 1): Cluster {
  const c = new Cluster({ seed })
  c.electNode('n1')
  c.addNode('n4')
  expect(c.changeMembership('n1', { type: 'add-learner', id: 'n4' })).not.toSatisfy(isMembershipRefusal)
  c.run(10)
  return c
}

describe('membership changes (thesis §4.1, learners first)', () => {
  it('a configuration takes effect on the leader and on a follower as soon as it is appended, before it commits', () => {
    const c = new Cluster({ seed: 1 })
    c.electNode('n1')
    // Acknowledgements are lost: nothing of the change can commit.
    c.dropIf = (m) => m.type === 'AppendEntriesResponse'
    c.addNode('n4')
    const at = c.changeMembership('n1', { type: 'add-learner', id: 'n4' })
    // After the leader's no-op at index 1.
    expect(at).toMatchObject({ index: 2 })
    expect(membershipOf(c, 'n1').learners).toEqual(['n4'])
    c.deliverAll()
    expect(c.core('n2').status().commitIndex).toBeLessThan(3)
    expect(membershipOf(c, 'n2')).toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['n4'], roster: ['n1', 'n2', 'n3', 'n4'] })
  })

  it('a configuration entry cut from the log no longer applies', () => {
    const c = new Cluster({ seed: 2, size: 5 })
    c.electNode('n1')
    // The change reaches n2 only, and commits nowhere.
    c.dropIf = (m) => m.type === 'AppendEntriesResponse' || (m.type === 'AppendEntries' && m.to !== 'n2')
    c.addNode('n6')
    c.changeMembership('n1', { type: 'add-learner', id: 'n6' })
    c.deliverAll()
    expect(membershipOf(c, 'n2').learners).toEqual(['n6'])
    // A new leader among n3..n5 never saw it; n2 follows it and drops the entry.
    c.dropIf = null
    c.partition(['n1', 'n2', 'n6'], ['n3', 'n4', 'n5'])
    const leader = electAmong(c, ['n3', 'n4', 'n5'])
    c.heal()
    c.propose(leader, 'after')
    c.run(20)
    expect(membershipOf(c, 'n2')).toEqual(initialMembership(['n1', 'n2', 'n3', 'n4', 'n5']))
    expect(c.items('n2')).toContain('after')
  })

  it('takes one uncommitted change at a time', () => {
    const c = new Cluster({ seed: 3 })
    c.electNode('n1')
    c.dropIf = (m) => m.type === 'AppendEntriesResponse'
    c.addNode('n4')
    c.addNode('n5')
    c.changeMembership('n1', { type: 'add-learner', id: 'n4' })
    expect(refusal(c.changeMembership('n1', { type: 'add-learner', id: 'n5' }))).toBe('change-pending')
    c.dropIf = null
    c.run(5)
    expect(refusal(c.changeMembership('n1', { type: 'add-learner', id: 'n5' }))).toBeNull()
  })

  it('a new leader proposes no change before an entry of its own term commits', () => {
    const c = new Cluster({ seed: 4 })
    c.dropIf = (m) => m.type === 'AppendEntriesResponse'
    c.electNode('n1')
    expect(refusal(c.changeMembership('n1', { type: 'add-learner', id: 'n4' }))).toBe('change-pending')
    c.dropIf = null
    c.run(5)
    expect(refusal(c.changeMembership('n1', { type: 'add-learner', id: 'n4' }))).toBeNull()
  })

  it('refuses what the membership cannot take, and answers not-leader on a follower', () => {
    const c = new Cluster({ seed: 5, size: 1 })
    c.electNode('n1')
    expect(refusal(c.changeMembership('n1', { type: 'remove', id: 'n1' }))).toBe('last-voter')
    expect(refusal(c.changeMembership('n1', { type: 'promote', id: 'n7' }))).toBe('unknown-id')
    expect(refusal(c.changeMembership('n1', { type: 'add-learner', id: 'n1' }))).toBe('already-admitted')
    const three = new Cluster({ seed: 5 })
    three.electNode('n1')
    expect(three.changeMembership('n2', { type: 'add-learner', id: 'n4' })).toSatisfy(isNotLeader)
  })

  it("a learner receives the log, but its acknowledgement commits nothing", () => {
    const c = withLearner()
    expect(c.items('n4')).toEqual([])
    c.propose('n1', 'x')
    c.run(3)
    expect(c.items('n4')).toEqual(['x'])
    // The two other voters are cut off: n1 and the learner n4 alone are no majority of n1..n3.
    c.partition(['n1', 'n4'], ['n2', 'n3'])
    const before = c.core('n1').status().commitIndex
    c.propose('n1', 'y')
    c.deliverAll()
    expect(c.core('n4').status().lastIndex).toBe(c.core('n1').status().lastIndex)
    expect(c.core('n1').status().commitIndex).toBe(before)
  })

  it('a learner never campaigns, even with every voter down', () => {
    const c = withLearner()
    for (const id of ['n1', 'n2', 'n3']) c.crash(id)
    c.tick(200, ['n4'])
    expect(c.core('n4').status().role).toBe('follower')
    expect(c.network.filter((m) => m.from === 'n4' && (m.type === 'PreVote' || m.type === 'RequestVote'))).toEqual([])
  })

  it('CheckQuorum counts voters only: a leader that hears only a learner steps down', () => {
    const c = withLearner()
    c.partition(['n1', 'n4'], ['n2', 'n3'])
    // n4 answers every heartbeat; n2 and n3 none.
    for (let i = 0; i < 40; i++) {
      c.tick(1, ['n1', 'n4'])
      c.deliverAll()
    }
    expect(c.core('n1').status().role).not.toBe('leader')
  })

  it('promotes a learner only once it has caught up', () => {
    const c = new Cluster({ seed: 6 })
    c.electNode('n1')
    c.addNode('n4')
    c.crash('n4')
    c.changeMembership('n1', { type: 'add-learner', id: 'n4' })
    for (let i = 0; i <= PROMOTE_MAX_LAG_ENTRIES; i++) c.propose('n1', `v${i}`)
    c.run(3)
    expect(refusal(c.changeMembership('n1', { type: 'promote', id: 'n4' }))).toBe('not-caught-up')
    c.restart('n4')
    c.run(10)
    expect(refusal(c.changeMembership('n1', { type: 'promote', id: 'n4' }))).toBeNull()
    c.run(5)
    expect(membershipOf(c, 'n4').voters).toEqual(['n1', 'n2', 'n3', 'n4'])
  })

  it('a promoted voter counts: with two of four down, nothing commits; with one, it does', () => {
    const c = withLearner(7)
    c.changeMembership('n1', { type: 'promote', id: 'n4' })
    c.run(5)
    c.crash('n3')
    c.propose('n1', 'with n2 and n4')
    c.run(5)
    expect(c.items('n1')).toContain('with n2 and n4')
    c.crash('n2')
    c.propose('n1', 'with n4 only')
    c.run(5)
    expect(c.items('n1')).not.toContain('with n4 only')
  })

  it('a leader that removes itself leads on without counting itself, and steps down once the removal commits', () => {
    const c = new Cluster({ seed: 8 })
    c.electNode('n1')
    const removal = c.changeMembership('n1', { type: 'remove', id: 'n1' }) as { index: number }
    expect(c.core('n1').status()).toMatchObject({ role: 'leader', membership: { voters: ['n2', 'n3'] } })
    // n3's acknowledgements are lost: n1 and n2 hold the entry, but n1 does not count.
    c.dropIf = (m) => m.type === 'AppendEntriesResponse' && m.from === 'n3'
    c.deliverAll()
    expect(c.core('n1').status().commitIndex).toBeLessThan(removal.index)
    expect(c.core('n1').status().role).toBe('leader')
    c.dropIf = null
    c.run(10)
    expect(c.core('n1').status().role).toBe('follower')
    const leader = c.elect()
    expect(['n2', 'n3']).toContain(leader)
    c.propose(leader, 'without n1')
    c.run(5)
    expect(c.items(leader)).toContain('without n1')
  })

  it('a replica whose own log removes it never campaigns', () => {
    const rng = createRng(9)
    const removal: Entry = {
      type: 'membership', index: 1, term: 1, change: { type: 'remove', id: 'n3', context: bytes('') },
      membership: { voters: ['n1', 'n2'], learners: [], roster: ['n1', 'n2', 'n3'] },
    }
    const core = createRaft({
      id: 'n3', members: ['n1', 'n2', 'n3'], electionTimeoutTicks: 10, heartbeatTicks: 2, random: () => rng.next(),
      maxEntriesPerMessage: 16, maxInflightMessages: 4,
      persisted: { hardState: { term: 1, vote: null, commit: 1 }, snapshot: null, entries: [removal] },
    })
    for (let i = 0; i < 100; i++) core.tick()
    expect(core.status().role).toBe('follower')
    expect(core.ready()?.messagesNow ?? []).toEqual([])
  })

  it('replaces a crashed voter by a brand-new replica, which catches up by snapshot', () => {
    const c = new Cluster({ seed: 10 })
    c.electNode('n1')
    for (let i = 0; i < 10; i++) c.propose('n1', `v${i}`)
    c.run(3)
    c.crash('n3')
    c.compact('n1')
    c.addNode('n4')
    c.changeMembership('n1', { type: 'add-learner', id: 'n4' })
    c.run(10)
    expect(c.items('n4')).toEqual(c.items('n1'))
    c.changeMembership('n1', { type: 'promote', id: 'n4' })
    c.run(5)
    c.changeMembership('n1', { type: 'remove', id: 'n3' })
    c.run(5)
    expect(membershipOf(c, 'n1')).toEqual({ voters: ['n1', 'n2', 'n4'], learners: [], roster: ['n1', 'n2', 'n3', 'n4'] })
    // n1 and n4 are a majority of the new voters: n2 may go too.
    c.crash('n2')
    c.propose('n1', 'after')
    c.run(5)
    expect(c.items('n4')).toContain('after')
  })

  it('a snapshot carries the membership: a replica restarted from one knows its group', () => {
    const c = withLearner(11)
    c.propose('n1', 'x')
    c.run(3)
    c.compact('n4')
    c.crash('n4')
    c.restart('n4')
    expect(membershipOf(c, 'n4').learners).toEqual(['n4'])
    c.compact('n1')
    c.addNode('n5')
    c.changeMembership('n1', { type: 'add-learner', id: 'n5' })
    c.run(10)
    expect(membershipOf(c, 'n5')).toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['n4', 'n5'], roster: ['n1', 'n2', 'n3', 'n4', 'n5'] })
  })
})
