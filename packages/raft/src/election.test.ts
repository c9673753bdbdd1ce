import { describe, expect, it } from 'vitest'
import { createRng, type ConsensusCore, type PeerMessage, type Ready } from '@kv/consensus'
import { createRaft } from './index.js'
import type { RaftMessage, RequestVote } from './messages.js'
import { Cluster } from './test-cluster.js'

function core(id: string, members: string[], seed: number, options: Record<string, unknown> = {}): ConsensusCore {
  const rng = createRng(seed)
  return createRaft({
    id, members, electionTimeoutTicks: 10, heartbeatTicks: 2, random: () => rng.next(),
    maxEntriesPerMessage: 16, maxInflightMessages: 4, persisted: null, options,
  })
}

function tickUntil(c: ConsensusCore, done: () => boolean): Ready {
  for (let i = 0; i < 100; i++) {
    c.tick()
    if (done()) break
  }
  const ready = c.ready()
  expect(ready).not.toBeNull()
  return ready!
}

function types(messages: readonly PeerMessage[]): string[] {
  return messages.map((m) => m.type)
}

describe('leader election', () => {
  it('elects a single leader per term across many seeds', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const c = new Cluster({ seed, size: 5 })
      c.run(200) // the cluster asserts one leader per term after every step
      const leaders = c.ids.filter((id) => c.core(id).status().role === 'leader')
      expect(leaders, `seed ${seed}`).toHaveLength(1)
      const term = c.core(leaders[0]!).status().term
      for (const id of c.ids) expect(c.core(id).status()).toMatchObject({ term, leader: leaders[0] })
    }
  })

  it('draws election timeouts from [electionTimeoutTicks, 2 * electionTimeoutTicks)', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const c = core('n1', ['n1', 'n2', 'n3'], seed)
      let ticks = 0
      while (c.status().role === 'follower') {
        c.tick()
        ticks++
      }
      expect(ticks).toBeGreaterThanOrEqual(10)
      expect(ticks).toBeLessThan(20)
    }
  })

  it('sends a vote only after persisting it (messagesAfterPersist)', () => {
    const members = ['n1', 'n2', 'n3']
    const n1 = core('n1', members, 1)
    const n2 = core('n2', members, 2)
    const preVote = tickUntil(n1, () => n1.status().role === 'pre-candidate')
    // A pre-vote promises nothing: it goes at once, and changes no term.
    expect(types(preVote.messagesNow)).toEqual(['PreVote', 'PreVote'])
    expect(preVote.hardState).toBeNull()
    n1.advance(preVote)
    n2.step(preVote.messagesNow.find((m) => m.to === 'n2')!)
    const preVoteAnswer = n2.ready()!
    expect(types(preVoteAnswer.messagesNow)).toEqual(['PreVoteResponse'])
    expect(preVoteAnswer.hardState).toBeNull()
    n2.advance(preVoteAnswer)
    n1.step(preVoteAnswer.messagesNow[0]!)
    const campaign = n1.ready()!
    expect(campaign.hardState).toEqual({ term: 1, vote: 'n1', commit: 0 })
    expect(types(campaign.messagesNow)).toEqual([])
    expect(types(campaign.messagesAfterPersist)).toEqual(['RequestVote', 'RequestVote'])
    n1.advance(campaign)
    n2.step(campaign.messagesAfterPersist.find((m) => m.to === 'n2')!)
    const vote = n2.ready()!
    expect(vote.hardState).toEqual({ term: 1, vote: 'n1', commit: 0 })
    expect(vote.messagesNow).toEqual([])
    expect(vote.messagesAfterPersist).toEqual([
      { type: 'RequestVoteResponse', from: 'n2', to: 'n1', term: 1, granted: true },
    ])
  })

  it('a follower with a stale log refuses to vote', () => {
    const c = new Cluster({ seed: 4, options: { preVote: false, checkQuorum: false } })
    c.electNode('n1')
    c.isolate('n3')
    c.propose('n1', 'a')
    c.run(3)
    expect(c.core('n1').status().commitIndex).toBe(2)
    c.heal()
    c.campaign('n3')
    c.deliverAll()
    expect(c.core('n3').status().role).not.toBe('leader')
    // Without pre-vote the stale candidate did raise the term; an up-to-date node wins it.
    const leader = c.elect()
    expect(leader).not.toBe('n3')
    c.run(5)
    expect(c.items('n3')).toEqual(['a'])
  })

  it('refuses RequestVote from a candidate whose log is behind', () => {
    const c = new Cluster({ seed: 5, options: { preVote: false, checkQuorum: false } })
    c.electNode('n1')
    c.isolate('n3')
    c.propose('n1', 'a')
    c.run(3)
    c.heal()
    c.campaign('n3')
    const responses: RaftMessage[] = []
    c.dropIf = (m) => {
      if (m.type === 'RequestVoteResponse') responses.push(m)
      return false
    }
    c.deliverAll()
    expect(responses.map((m) => [m.from, m.type === 'RequestVoteResponse' && m.granted])).toEqual([
      ['n1', false],
      ['n2', false],
    ])
  })

  it('with PreVote, a partitioned node rejoining does not disrupt the leader', () => {
    const c = new Cluster({ seed: 6 })
    c.electNode('n1')
    const term = c.core('n1').status().term
    c.isolate('n3')
    c.run(100) // n3 pre-campaigns again and again but never raises its term
    expect(c.core('n3').status().term).toBe(term)
    c.heal()
    c.run(20)
    expect(c.leader()).toBe('n1')
    for (const id of c.ids) expect(c.core(id).status()).toMatchObject({ term, leader: 'n1' })
  })

  it('without PreVote, the same rejoin forces a new term', () => {
    const c = new Cluster({ seed: 6, options: { preVote: false } })
    c.electNode('n1')
    const term = c.core('n1').status().term
    c.isolate('n3')
    c.run(100)
    expect(c.core('n3').status().term).toBeGreaterThan(term + 1)
    c.heal()
    c.run(30)
    expect(c.core(c.elect()).status().term).toBeGreaterThan(term)
  })

  it('with CheckQuorum, a follower that heard from its leader ignores vote requests (lease)', () => {
    const c = new Cluster({ seed: 7, options: { preVote: false } })
    c.electNode('n1')
    const term = c.core('n1').status().term
    const forged: RequestVote = {
      type: 'RequestVote', from: 'n3', to: 'n2', term: term + 5, lastLogIndex: 99, lastLogTerm: term, transfer: false,
    }
    c.core('n2').step(forged)
    expect(c.core('n2').status()).toMatchObject({ term, leader: 'n1' })
    expect(c.core('n2').ready()).toBeNull()
    // The transfer flag overrides the lease.
    const transfer: RequestVote = { ...forged, transfer: true }
    c.core('n2').step(transfer)
    expect(c.core('n2').status()).toMatchObject({ term: term + 5, leader: null })
  })
})
