import { describe, expect, it } from 'vitest'
import { createRng, type ConsensusCore } from '@kv/consensus'
import { createRaft } from './index.js'
import type { AppendEntries } from './messages.js'
import { Cluster, bytes } from './test-cluster.js'

function appendsTo(c: Cluster, to: string): AppendEntries[] {
  return c.network.filter((m): m is AppendEntries => m.type === 'AppendEntries' && m.to === to)
}

describe('log replication', () => {
  it('batches entries and pipelines several AppendEntries per follower', () => {
    const c = new Cluster({ seed: 1, maxEntriesPerMessage: 4, maxInflightMessages: 3 })
    c.electNode('n1')
    c.run(2)
    const n1 = c.core('n1')
    for (let i = 0; i < 10; i++) n1.propose(bytes(`e${i}`)) // no Ready in between: one batch
    c.processReady('n1')
    // Ten entries, four per message, all three messages in flight at once.
    expect(appendsTo(c, 'n2').map((m) => m.entries.length)).toEqual([4, 4, 2])
    for (let i = 10; i < 15; i++) n1.propose(bytes(`e${i}`))
    c.processReady('n1')
    expect(appendsTo(c, 'n2')).toHaveLength(3) // the window is full: the new entries wait
    c.deliverAll()
    c.run(2)
    for (const id of c.ids) expect(c.items(id)).toEqual(Array.from({ length: 15 }, (_, i) => `e${i}`))
  })

  it('commits on a quorum without waiting for the slowest follower', () => {
    const c = new Cluster({ seed: 2 })
    c.electNode('n1')
    c.isolate('n3')
    c.propose('n1', 'a')
    c.deliverAll()
    expect(c.core('n1').status().commitIndex).toBe(2)
    expect(c.items('n1')).toEqual(['a'])
    expect(c.core('n3').status().lastIndex).toBe(1)
  })

  it('catches a far-behind follower up in few rounds (rejection hints)', () => {
    const c = new Cluster({ seed: 3, maxEntriesPerMessage: 100 })
    c.electNode('n1')
    c.isolate('n3')
    for (let i = 0; i < 50; i++) c.propose('n1', `x${i}`)
    c.run(3)
    c.heal()
    let rejections = 0
    c.dropIf = (m) => {
      if (m.type === 'AppendEntriesResponse' && !m.success) rejections++
      return false
    }
    c.run(5)
    expect(c.items('n3')).toHaveLength(50)
    expect(rejections).toBeLessThanOrEqual(2)
  })

  it('truncates a conflicting uncommitted suffix (log matching)', () => {
    const c = new Cluster({ seed: 4, trace: true, options: { checkQuorum: false } })
    c.electNode('n1')
    c.isolate('n1')
    c.propose('n1', 'lost1') // index 2 and 3 on the old leader only
    c.propose('n1', 'lost2')
    c.electNode('n2')
    c.propose('n2', 'kept')
    c.deliverAll()
    c.heal()
    c.trace.length = 0
    c.run(10)
    expect(c.trace.filter((l) => l.includes('truncateFrom'))).toEqual(['  truncateFrom 2'])
    for (const id of c.ids) expect(c.items(id)).toEqual(['kept'])
    const disk = [...c.replica('n1').disk.entries.values()].map((e) => `${e.index}/${e.term}`)
    expect(disk).toEqual(['1/1', '2/2', '3/2'])
  })

  it('does not commit an entry of an earlier term by counting replicas (Raft Figure 8)', () => {
    const c = new Cluster({ seed: 5, size: 5, maxEntriesPerMessage: 1, options: { checkQuorum: false } })
    // (a) n1 leads term 1 and gets index 2 to n2 only.
    c.electNode('n1')
    c.partition(['n1', 'n2'], ['n3', 'n4', 'n5'])
    c.propose('n1', 'x')
    c.deliverAll()
    expect(c.core('n2').status().lastIndex).toBe(2)
    // (b) n1 crashes; n5 wins term 2 with n3, n4 and writes index 2 (term 2) only locally.
    c.crash('n1')
    c.heal()
    c.dropIf = (m) => m.from === 'n5' && m.type === 'AppendEntries'
    c.electNode('n5')
    expect(c.core('n5').status()).toMatchObject({ term: 2, lastIndex: 2 })
    c.crash('n5')
    // (c) n1 restarts and wins term 3; index 2 (term 1) reaches n3, a majority holds it,
    // but index 3 (n1's term-3 no-op) does not: nothing may commit.
    c.restart('n1')
    const holdsIndex2 = (): boolean => c.core('n3').status().lastIndex >= 2
    c.dropIf = (m) =>
      m.to === 'n4' ||
      (m.type === 'AppendEntries' && m.to === 'n3' && holdsIndex2() && m.entries.some((e) => e.index >= 3))
    c.electNode('n1')
    c.run(3)
    expect(c.core('n3').status().lastIndex).toBe(2)
    expect(c.core('n1').status()).toMatchObject({ term: 3, commitIndex: 1 })
    // (d) n1 crashes; n5 wins term 4 (n3, n4 vote) and overwrites index 2. Had index 2 been
    // committed in (c), the cluster's state machine safety check would fail here.
    c.crash('n1')
    c.restart('n5')
    c.dropIf = null
    c.electNode('n5')
    c.run(5)
    expect(c.core('n3').status().commitIndex).toBeGreaterThanOrEqual(3)
    expect(c.items('n3')).toEqual([])
  })
})

describe('durability before counting', () => {
  function single(): ConsensusCore {
    const rng = createRng(9)
    return createRaft({
      id: 'n1', members: ['n1'], electionTimeoutTicks: 10, heartbeatTicks: 2, random: () => rng.next(),
      maxEntriesPerMessage: 8, maxInflightMessages: 2, persisted: null,
    })
  }

  it('a single-node group commits an entry only after advance() of the Ready carrying it', () => {
    const n1 = single()
    while (n1.status().role !== 'leader') n1.tick()
    const first = n1.ready()!
    expect(first.entries.map((e) => e.type)).toEqual(['noop'])
    expect(first.committed).toEqual([])
    expect(n1.status().commitIndex).toBe(0)
    n1.advance(first)
    expect(n1.status().commitIndex).toBe(1)
    expect(n1.propose(bytes('a'))).toEqual({ index: 2, term: 1 })
    const second = n1.ready()!
    expect(second.committed.map((e) => e.index)).toEqual([1])
    expect(second.entries.map((e) => e.index)).toEqual([2])
    expect(n1.status().commitIndex).toBe(1)
    n1.advance(second)
    expect(n1.status().commitIndex).toBe(2)
    expect(n1.ready()!.committed.map((e) => e.index)).toEqual([2])
  })

  it('a leader counts itself toward a quorum only after advance()', () => {
    const c = new Cluster({ seed: 6 })
    c.electNode('n1')
    c.run(2)
    const n1 = c.core('n1')
    n1.propose(bytes('a'))
    const ready = n1.ready()!
    expect(ready.entries.map((e) => e.index)).toEqual([2])
    c.network.push(...(ready.messagesNow.filter((m) => m.to === 'n2') as never[]))
    c.deliverOne() // n2 persists and acknowledges
    const ack = c.network.find((m) => m.to === 'n1' && m.type === 'AppendEntriesResponse')!
    c.network = []
    n1.step(ack)
    expect(n1.status().commitIndex).toBe(1) // n2 alone is not a quorum of 3
    n1.advance(ready)
    expect(n1.status().commitIndex).toBe(2)
  })
})
