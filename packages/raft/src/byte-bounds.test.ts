import { ENTRY_OVERHEAD_BYTES, type Entry, type Ready } from '@kv/consensus'
import { describe, expect, it } from 'vitest'
import { createRaft } from './index.js'
import type { AppendEntries } from './messages.js'
import { Cluster } from './test-cluster.js'

const value = (i: number, size = 100) => `${String(i).padStart(3, '0')}${'x'.repeat(size - 3)}`
const cost = (size: number) => size + ENTRY_OVERHEAD_BYTES

describe('byte bounds', () => {
  it('an AppendEntries carries at most maxBytesPerMessage of entries, a larger entry alone', () => {
    const c = new Cluster({ seed: 21, maxBytesPerMessage: 2 * cost(100) + 10 })
    c.electNode('n1')
    c.run(2)
    const sent: AppendEntries[] = []
    c.dropIf = (m) => {
      if (m.type === 'AppendEntries' && m.entries.length > 0) sent.push(m)
      return false
    }
    for (let i = 0; i < 9; i++) c.core('n1').propose(new TextEncoder().encode(value(i)))
    c.core('n1').propose(new TextEncoder().encode(value(9, 1000)))
    c.run(5)
    expect(c.items('n2')).toHaveLength(10)
    const sizes = sent.map((m) => m.entries.reduce((n, e) => n + cost(e.type === 'normal' ? e.data.length : 0), 0))
    expect(sent.every((m, i) => sizes[i]! <= 2 * cost(100) + 10 || m.entries.length === 1)).toBe(true)
    expect(sent.some((m) => m.entries.length === 1 && sizes[sent.indexOf(m)] === cost(1000))).toBe(true)
    expect(Math.max(...sent.map((m) => m.entries.length))).toBe(2)
  })

  it('a Ready hands out at most maxPersistBytesPerReady to persist and maxApplyBytesPerReady to apply', () => {
    const c = new Cluster({ seed: 22, maxBytesPerMessage: 2 * cost(100), maxPersistBytesPerReady: 3 * cost(100), maxApplyBytesPerReady: cost(100) })
    c.electNode('n1')
    c.run(3)
    const leader = c.core('n1')
    for (let i = 0; i < 7; i++) leader.propose(new TextEncoder().encode(value(i)))
    const readies: Ready[] = []
    let ready = leader.ready()
    while (ready !== null) {
      readies.push(ready)
      leader.advance(ready)
      ready = leader.ready()
    }
    expect(readies.map((r) => r.entries.length)).toEqual([3, 3, 1])
    c.network = []
    c.run(10)
    expect(c.items('n1')).toHaveLength(7)
    expect(c.replica('n1').readyCount).toBeGreaterThanOrEqual(7) // one committed entry per Ready at most
  })

  it('holds acknowledgements back until every entry they cover is handed out, and never persists a commit past them', () => {
    const follower = createRaft({
      id: 'n2', members: ['n1', 'n2', 'n3'], electionTimeoutTicks: 10, heartbeatTicks: 2, random: () => 0.5,
      maxEntriesPerMessage: 64, maxInflightMessages: 4, persisted: null,
      maxBytesPerMessage: 2 * cost(100), maxPersistBytesPerReady: 2 * cost(100),
    })
    const entries: Entry[] = Array.from({ length: 5 }, (_, i) => ({
      type: 'normal', index: i + 1, term: 1, data: new TextEncoder().encode(value(i)),
    }))
    follower.step({ type: 'AppendEntries', from: 'n1', to: 'n2', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries, leaderCommit: 5 } as AppendEntries)
    const readies: Ready[] = []
    for (let ready = follower.ready(); ready !== null; ready = follower.ready()) {
      readies.push(ready)
      follower.advance(ready)
    }
    expect(readies.map((r) => r.entries.map((e) => e.index))).toEqual([[1, 2], [3, 4], [5], []])
    expect(readies.map((r) => r.messagesAfterPersist.length)).toEqual([0, 0, 1, 0])
    expect(readies[2]!.messagesAfterPersist[0]).toMatchObject({ type: 'AppendEntriesResponse', success: true, matchIndex: 5 })
    expect(readies.map((r) => r.hardState?.commit)).toEqual([2, 4, 5, undefined])
    // Committed entries are handed out once durable: one Ready after the one that wrote them.
    expect(readies.map((r) => r.committed.map((e) => e.index))).toEqual([[], [1, 2], [3, 4], [5]])
  })
})
