import { describe, expect, it } from 'vitest'
import { createRng } from '@kv/consensus'
import { createRaft } from './index.js'
import type { RaftMessage } from './messages.js'
import { Cluster } from './test-cluster.js'

function heartbeatsSent(c: Cluster): number {
  return c.trace.filter((l) => /now +n1->n\d Heartbeat/.test(l)).length
}

describe('ReadIndex', () => {
  it('answers N reads with one heartbeat round', () => {
    const c = new Cluster({ seed: 1, trace: true })
    c.electNode('n1')
    c.run(2)
    const commit = c.core('n1').status().commitIndex
    c.trace.length = 0
    for (let ctx = 1; ctx <= 5; ctx++) expect(c.core('n1').readIndex(ctx)).toBeNull()
    c.processReady('n1')
    c.deliverAll()
    expect(heartbeatsSent(c)).toBe(2) // one round: one heartbeat per follower
    expect(c.replica('n1').readStates).toEqual([1, 2, 3, 4, 5].map((ctx) => ({ ctx, index: commit })))
  })

  it('reads arriving during a round share the next round', () => {
    const c = new Cluster({ seed: 2, trace: true })
    c.electNode('n1')
    c.run(2)
    c.trace.length = 0
    c.core('n1').readIndex(1)
    c.processReady('n1')
    for (let ctx = 2; ctx <= 4; ctx++) c.core('n1').readIndex(ctx)
    c.processReady('n1')
    expect(heartbeatsSent(c)).toBe(2)
    c.deliverAll()
    expect(heartbeatsSent(c)).toBe(4) // round 1 for read 1, round 2 for reads 2..4
    expect(c.replica('n1').readStates.map((r) => r.ctx)).toEqual([1, 2, 3, 4])
  })

  it('waits until the leader committed an entry of its term', () => {
    const c = new Cluster({ seed: 3, options: { checkQuorum: false } })
    c.electNode('n1')
    c.run(2)
    // 'a' commits on n1 and n3; n2 holds it but never hears that it committed.
    const commitToN2 = (m: RaftMessage): boolean =>
      m.to === 'n2' && ((m.type === 'AppendEntries' && m.leaderCommit >= 2) || (m.type === 'Heartbeat' && m.commit >= 2))
    c.dropIf = commitToN2
    c.propose('n1', 'a')
    c.deliverAll()
    expect(c.core('n1').status().commitIndex).toBe(2)
    expect(c.core('n2').status()).toMatchObject({ commitIndex: 1, lastIndex: 2 })
    // n2 wins term 2, but every ack of its no-op (index 3) is held back: its commitIndex (1)
    // is behind the last leader's (2), so no read may be answered from it yet (§6.4 step 1).
    c.isolate('n1')
    c.dropIf = (m) => m.type === 'AppendEntriesResponse' && m.to === 'n2'
    c.electNode('n2')
    const noop = c.core('n2').status().lastIndex
    expect(noop).toBe(3)
    expect(c.core('n2').readIndex(7)).toBeNull()
    c.processReady('n2')
    c.run(5) // heartbeats and their answers flow: a confirmation round would complete
    expect(c.core('n2').status()).toMatchObject({ role: 'leader', term: 2, commitIndex: 1 })
    expect(c.replica('n2').readStates).toEqual([])
    // The acks get through: the no-op commits, and only then is the read given an index.
    c.dropIf = null
    c.run(3)
    expect(c.core('n2').status().commitIndex).toBe(noop)
    const [read, ...rest] = c.replica('n2').readStates
    expect(rest).toEqual([])
    expect(read?.ctx).toBe(7)
    expect(read?.index).toBeGreaterThanOrEqual(noop)
  })

  it('a leader partitioned away while a newer leader commits confirms no read', () => {
    // Without CheckQuorum the old leader keeps its role: only the quorum round stands
    // between it and a read that misses the newer leader's writes (thesis §6.4 step 3).
    const c = new Cluster({ seed: 6, options: { checkQuorum: false } })
    c.electNode('n1')
    c.run(2)
    c.isolate('n1')
    c.electNode('n2')
    c.propose('n2', 'b')
    c.run(2)
    expect(c.items('n3')).toEqual(['b'])
    expect(c.core('n1').status()).toMatchObject({ role: 'leader', term: 1 })
    expect(c.core('n1').readIndex(1)).toBeNull()
    c.processReady('n1')
    c.run(5)
    expect(c.replica('n1').readStates).toEqual([])
    // Healed, it learns of term 2 from the answers to its heartbeats: the read fails.
    c.heal()
    c.run(2)
    expect(c.core('n1').status()).toMatchObject({ role: 'follower', term: 2 })
    expect(c.replica('n1').readStates).toEqual([{ ctx: 1, index: null }])
  })

  it('fails pending reads when leadership is lost', () => {
    const c = new Cluster({ seed: 4 })
    c.electNode('n1')
    c.run(2)
    c.isolate('n1')
    c.core('n1').readIndex(1)
    c.core('n1').readIndex(2)
    c.run(25) // CheckQuorum: no answers for an election timeout
    expect(c.replica('n1').readStates).toEqual([{ ctx: 1, index: null }, { ctx: 2, index: null }])
    expect(c.core('n1').readIndex(3)).toMatchObject({ type: 'not-leader' })
  })

  it('redirects a read on a follower to the leader', () => {
    const c = new Cluster({ seed: 5 })
    c.electNode('n1')
    expect(c.core('n2').readIndex(1)).toEqual({ type: 'not-leader', leader: 'n1' })
  })

  it('answers at once in a single-node group', () => {
    const rng = createRng(1)
    const n1 = createRaft({
      id: 'n1', members: ['n1'], electionTimeoutTicks: 5, heartbeatTicks: 1, random: () => rng.next(),
      maxEntriesPerMessage: 8, maxInflightMessages: 2, persisted: null,
    })
    while (n1.status().role !== 'leader') n1.tick()
    n1.advance(n1.ready()!) // the no-op commits
    n1.advance(n1.ready()!)
    expect(n1.readIndex(9)).toBeNull()
    expect(n1.ready()!.readStates).toEqual([{ ctx: 9, index: 1 }])
  })
})
