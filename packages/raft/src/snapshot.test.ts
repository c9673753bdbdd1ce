import { describe, expect, it } from 'vitest'
import { InvariantError } from '@kv/consensus'
import type { InstallSnapshot } from './messages.js'
import type { RaftNode } from './raft.js'
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
    n3.step({
      type: 'InstallSnapshot', from: 'n1', to: 'n3', term: 1,
      snapshotIndex: leaderSnapshot.index, snapshotTerm: leaderSnapshot.term, offset: 0, data: leaderSnapshot.data, done: true,
    } as never)
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

describe('snapshots in chunks', () => {
  /** n3 misses 20 entries, which n1 then compacts: n3 can only catch up by snapshot. */
  function laggingFollower(options: Partial<ConstructorParameters<typeof Cluster>[0]> = {}): Cluster {
    const c = new Cluster({ seed: 11, maxSnapshotChunkBytes: 16, maxInflightMessages: 3, ...options })
    c.electNode('n1')
    c.isolate('n3')
    for (let i = 0; i < 20; i++) c.propose('n1', `value-${i}`)
    c.run(3)
    c.compact('n1')
    c.heal()
    return c
  }

  /** One message at a time (a tick when none is queued) until `done` holds. */
  function stepUntil(c: Cluster, done: () => boolean): void {
    for (let i = 0; i < 1000 && !done(); i++) if (!c.deliverOne()) c.tick()
    expect(done()).toBe(true)
  }

  /** Every InstallSnapshot delivered to n3, in order (observed, not dropped). */
  function watchChunks(c: Cluster, drop: (m: InstallSnapshot, seen: number) => boolean = () => false): InstallSnapshot[] {
    const chunks: InstallSnapshot[] = []
    c.dropIf = (m) => {
      if (m.type !== 'InstallSnapshot' || m.to !== 'n3') return false
      if (drop(m, chunks.length)) return true
      chunks.push(m)
      return false
    }
    return chunks
  }

  it('sends a snapshot many chunks long, each within the bound, and hands it to the shell whole once', () => {
    const c = laggingFollower({ trace: true })
    const chunks = watchChunks(c)
    const n3 = c.replica('n3')
    c.trace.length = 0
    c.run(10)
    expect(c.items('n3')).toEqual(c.items('n1'))
    const size = c.replica('n1').disk.snapshot!.data.length
    expect(size).toBeGreaterThan(10 * 16)
    expect(chunks.every((m) => m.data.length <= 16)).toBe(true)
    expect(chunks.filter((m) => m.done)).toHaveLength(1)
    expect(chunks.at(-1)).toMatchObject({ done: true, offset: size - chunks.at(-1)!.data.length })
    expect(n3.disk.snapshot!.data).toEqual(c.replica('n1').disk.snapshot!.data)
    // One Ready carried a snapshot, the whole one: the chunks before it were only acknowledged.
    expect(c.trace.filter((l) => l.startsWith('  snapshot '))).toEqual(['  snapshot 21/1'])
    expect(c.core('n3').status()).toMatchObject({ firstIndex: 22, appliedIndex: 21 })
  })

  it('keeps at most maxInflightMessages chunks unacknowledged', () => {
    const c = laggingFollower({ maxInflightMessages: 2 })
    const leader = c.core('n1') as RaftNode
    let most = 0
    c.dropIf = () => {
      const pr = leader.progress.get('n3')
      if (pr?.transfer !== null && pr?.transfer !== undefined) {
        const inFlight = c.network.filter((m) => m.type === 'InstallSnapshot' && m.to === 'n3').length
        most = Math.max(most, inFlight)
      }
      return false
    }
    c.run(10)
    expect(c.items('n3')).toEqual(c.items('n1'))
    expect(most).toBeGreaterThan(0)
    expect(most).toBeLessThanOrEqual(2)
  })

  it('resends a lost chunk from the offset the follower acknowledged, not from 0', () => {
    const c = laggingFollower()
    let dropped: InstallSnapshot | null = null
    const chunks = watchChunks(c, (m, seen) => {
      if (dropped !== null || seen < 3) return false
      dropped = m
      return true
    })
    c.run(10)
    expect(c.items('n3')).toEqual(c.items('n1'))
    const lost = dropped as InstallSnapshot | null
    expect(lost).not.toBeNull()
    expect(lost!.offset).toBe(48)
    // After the loss, nothing below the lost offset travels again: the transfer resumed there.
    const after = chunks.slice(3)
    expect(after.every((m) => m.offset >= lost!.offset)).toBe(true)
    expect(after.some((m) => m.offset === lost!.offset)).toBe(true)
    expect(chunks.filter((m) => m.offset === 0)).toHaveLength(1)
  })

  it('resends a window whose every chunk was lost after a few heartbeats', () => {
    const c = laggingFollower()
    let drops = 0
    const chunks = watchChunks(c, (m) => m.offset === 32 && drops++ < 3)
    c.run(30)
    expect(drops).toBe(4) // three dropped, the fourth delivered
    expect(c.items('n3')).toEqual(c.items('n1'))
    expect(chunks.filter((m) => m.offset === 0)).toHaveLength(1)
  })

  it('starts over from 0 with a follower that restarted mid-transfer, and completes', () => {
    const c = laggingFollower()
    const chunks = watchChunks(c)
    // Deliver a few chunks, then crash n3 with its half-assembled snapshot.
    stepUntil(c, () => chunks.length >= 4)
    expect((c.core('n3') as RaftNode).snapshotAssembly.bytesHeld).toBeGreaterThan(0)
    c.crash('n3')
    c.deliverAll()
    c.restart('n3')
    c.run(30)
    expect(c.items('n3')).toEqual(c.items('n1'))
    expect(chunks.filter((m) => m.offset === 0).length).toBe(2)
  })

  it('drops a half-received snapshot when a new leader takes over, and takes the new leader\'s', () => {
    const c = laggingFollower()
    c.compact('n2')
    const chunks = watchChunks(c)
    stepUntil(c, () => chunks.length >= 3)
    const n3 = c.core('n3') as RaftNode
    expect(n3.snapshotAssembly.assembling).toMatchObject({ origin: 1 })
    c.network = c.network.filter((m) => m.type !== 'InstallSnapshot')
    c.core('n1').transferLeadership('n2')
    c.processReady('n1')
    stepUntil(c, () => c.core('n2').status().role === 'leader' && c.core('n3').status().term === 2)
    expect(n3.snapshotAssembly.assembling?.origin ?? 2).toBe(2) // nothing of term 1 kept
    c.run(30)
    expect(c.items('n3')).toEqual(c.items('n2'))
    expect(chunks.some((m) => m.term === 2 && m.offset === 0 && m.from === 'n2')).toBe(true)
  })

  it('restarts with the newer snapshot when the follower holds nothing of the old one', () => {
    const c = laggingFollower()
    // Every chunk of the first snapshot is lost; the leader compacts again meanwhile.
    const chunks = watchChunks(c, (m) => m.snapshotIndex === 21)
    c.run(2)
    for (let i = 0; i < 5; i++) c.propose('n1', `later-${i}`)
    c.run(2)
    const newer = c.compact('n1')
    expect(newer.index).toBeGreaterThan(21)
    c.run(30)
    expect(c.items('n3')).toEqual(c.items('n1'))
    expect(chunks.every((m) => m.snapshotIndex === newer.index)).toBe(true)
  })
})
