import { describe, expect, it } from 'vitest'
import { InvariantError } from '@kv/consensus'
import { Cluster } from './test-cluster.js'

describe('snapshots', () => {
  it('InstallSnapshot brings a follower whose entries were compacted up to date', () => {
    const c = new Cluster({ seed: 1, trace: true })
    c.electNode('n1')
    c.isolate('n3')
    for (let i = 0; i < 10; i++) c.propose('n1', `v${i}`)
    c.run(3)
    const snapshot = c.compact('n1')
    expect(snapshot.index).toBe(11)
    expect(c.core('n1').status().firstIndex).toBe(12)
    c.heal()
    c.trace.length = 0
    c.run(5)
    expect(c.trace.some((l) => l.includes('n1->n3 InstallSnapshot t1 snapshot=11/1'))).toBe(true)
    expect(c.trace).toContain('  snapshot 11/1')
    expect(c.items('n3')).toEqual(c.items('n1'))
    expect(c.core('n3').status()).toMatchObject({ firstIndex: 12, appliedIndex: 11, commitIndex: 11 })
    // Committed entries resume after the snapshot.
    c.propose('n1', 'after')
    c.run(3)
    expect(c.items('n3').at(-1)).toBe('after')
    expect(c.core('n3').status().appliedIndex).toBe(12)
  })

  it('a snapshot the follower already committed is only acknowledged', () => {
    const c = new Cluster({ seed: 2, trace: true })
    c.electNode('n1')
    for (let i = 0; i < 4; i++) c.propose('n1', `v${i}`)
    c.run(3)
    c.compact('n1')
    // n3 holds every entry but its commitIndex is behind: the snapshot fits its log.
    const n3 = c.core('n3')
    const leaderSnapshot = { index: 5, term: 1, data: new TextEncoder().encode('["v0","v1","v2","v3"]') }
    expect(n3.status().commitIndex).toBe(5)
    n3.step({ type: 'InstallSnapshot', from: 'n1', to: 'n3', term: 1, snapshot: leaderSnapshot } as never)
    // Already committed: acknowledged, nothing to install.
    const ready = n3.ready()!
    expect(ready.snapshot).toBeNull()
    expect(ready.messagesAfterPersist).toMatchObject([{ type: 'AppendEntriesResponse', success: true, matchIndex: 5 }])
    n3.advance(ready)
  })

  it('refuses to compact beyond the applied index', () => {
    const c = new Cluster({ seed: 3 })
    c.electNode('n1')
    expect(() => c.core('n1').compact({ index: 5, term: 1, data: new Uint8Array() })).toThrow(InvariantError)
  })
})

describe('restart from persisted state', () => {
  it('hands committed entries out again and keeps term, vote and log', () => {
    const c = new Cluster({ seed: 4 })
    c.electNode('n1')
    for (const v of ['a', 'b', 'c']) c.propose('n1', v)
    c.run(3)
    const before = c.core('n2').status()
    c.crash('n2')
    c.restart('n2') // the Ready after restart re-applies entries up to the persisted commit
    expect(c.items('n2')).toEqual(['a', 'b', 'c'])
    expect(c.core('n2').status()).toMatchObject({ term: before.term, lastIndex: 4, commitIndex: 4, appliedIndex: 4 })
  })

  it('starts applying after the persisted snapshot', () => {
    const c = new Cluster({ seed: 5 })
    c.electNode('n1')
    for (const v of ['a', 'b', 'c']) c.propose('n1', v)
    c.run(3)
    c.compact('n2')
    c.propose('n1', 'd')
    c.run(3)
    c.crash('n2')
    c.restart('n2')
    expect(c.core('n2').status()).toMatchObject({ firstIndex: 5, appliedIndex: 5, commitIndex: 5 })
    expect(c.items('n2')).toEqual(['a', 'b', 'c', 'd'])
  })

  it('a whole group restarts and keeps every committed entry', () => {
    const c = new Cluster({ seed: 6 })
    c.electNode('n1')
    for (const v of ['a', 'b']) c.propose('n1', v)
    c.run(3)
    for (const id of c.ids) c.crash(id)
    for (const id of c.ids) c.restart(id)
    const leader = c.elect()
    c.propose(leader, 'c')
    c.run(3)
    for (const id of c.ids) expect(c.items(id)).toEqual(['a', 'b', 'c'])
  })

  it('a leader that crashed before syncing its entry was never counted for it', () => {
    const c = new Cluster({ seed: 7 })
    c.electNode('n1')
    c.run(2)
    c.isolate('n1')
    c.core('n1').propose(new TextEncoder().encode('lost'))
    expect(c.crashMidReady('n1')).toBe(true) // AppendEntries left, the disk write did not happen
    expect([...c.replica('n1').disk.entries.keys()]).toEqual([1])
    c.restart('n1')
    expect(c.core('n1').status().lastIndex).toBe(1)
  })
})
