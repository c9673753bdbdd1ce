import { describe, expect, it } from 'vitest'
import { Cluster } from './test-cluster.js'

describe('leadership transfer', () => {
  it('hands leadership to an up-to-date follower at once', () => {
    const c = new Cluster({ seed: 1, trace: true })
    c.electNode('n1')
    c.run(2)
    const term = c.core('n1').status().term
    c.trace.length = 0
    c.core('n1').transferLeadership('n3')
    c.processReady('n1')
    c.deliverAll()
    expect(c.trace).toContain('  now   n1->n3 TimeoutNow t1')
    expect(c.trace.some((l) => l.includes('n3->n2 RequestVote t2 last=1/1 transfer'))).toBe(true)
    expect(c.leader()).toBe('n3')
    expect(c.core('n3').status().term).toBe(term + 1)
  })

  it('brings a lagging target up to date first, refusing proposals meanwhile', () => {
    const c = new Cluster({ seed: 2 })
    c.electNode('n1')
    c.isolate('n3')
    for (let i = 0; i < 5; i++) c.propose('n1', `v${i}`)
    c.deliverAll()
    c.heal()
    c.core('n1').transferLeadership('n3')
    expect(c.propose('n1', 'refused')).toEqual({ type: 'not-leader', leader: 'n3' })
    c.run(5) // heartbeat answers reveal the gap; the leader fills it, then sends TimeoutNow
    expect(c.leader()).toBe('n3')
    c.run(3)
    for (const id of c.ids) expect(c.items(id)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4'])
  })

  it('is abandoned after an election timeout if the target does not answer', () => {
    const c = new Cluster({ seed: 3 })
    c.electNode('n1')
    c.run(2)
    c.crash('n3')
    c.core('n1').transferLeadership('n3')
    expect(c.propose('n1', 'x')).toMatchObject({ type: 'not-leader' })
    c.run(10)
    expect(c.leader()).toBe('n1')
    expect(c.propose('n1', 'y')).toMatchObject({ index: 2 })
  })

  it('is ignored on a follower and for a non-member', () => {
    const c = new Cluster({ seed: 4 })
    c.electNode('n1')
    c.core('n2').transferLeadership('n3')
    c.core('n1').transferLeadership('n9')
    expect(c.propose('n1', 'x')).toMatchObject({ index: 2 })
  })
})

describe('CheckQuorum', () => {
  it('a partitioned leader steps down after an election timeout', () => {
    const c = new Cluster({ seed: 5 })
    c.electNode('n1')
    c.run(2)
    c.isolate('n1')
    c.tick(10, ['n1']) // one election timeout without answers
    expect(c.core('n1').status()).toMatchObject({ role: 'follower', leader: null })
    expect(c.propose('n1', 'x')).toEqual({ type: 'not-leader', leader: null })
    expect(c.core('n1').readIndex(1)).toEqual({ type: 'not-leader', leader: null })
  })

  it('a leader that hears from a quorum stays', () => {
    const c = new Cluster({ seed: 6 })
    c.electNode('n1')
    c.crash('n3')
    c.run(50)
    expect(c.leader()).toBe('n1')
  })

  it('without CheckQuorum, a partitioned leader keeps its role', () => {
    const c = new Cluster({ seed: 7, options: { checkQuorum: false } })
    c.electNode('n1')
    c.isolate('n1')
    c.tick(50, ['n1'])
    expect(c.core('n1').status().role).toBe('leader')
  })
})
