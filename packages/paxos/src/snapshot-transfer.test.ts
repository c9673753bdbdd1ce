import { ENTRY_OVERHEAD_BYTES, type Entry, type NodeId, type PeerMessage, type Ready } from '@kv/consensus'
import { describe, expect, it } from 'vitest'
import { createPaxos } from './index.js'
import type { InstallSnapshot, PaxosPromise } from './messages.js'
import { bytes, TestCluster } from './test-cluster.js'

const othersThan = (c: TestCluster, id: NodeId) => c.ids.filter((x) => x !== id)
const cost = (size: number) => size + ENTRY_OVERHEAD_BYTES

/** `lagging` misses 30 values, which the others then compact: it can only catch up by snapshot. */
function laggingReplica(seed: number, window = 1, options: Partial<ConstructorParameters<typeof TestCluster>[0]> = {}): { c: TestCluster; leader: NodeId; lagging: NodeId } {
  // The test network shuffles every delivery round; one chunk in flight keeps the stream in order.
  const c = new TestCluster({ size: 3, seed, maxInflightMessages: window, byteBounds: { maxSnapshotChunkBytes: 16 }, ...options })
  const leader = c.waitForLeader()
  const lagging = othersThan(c, leader)[0]!
  c.crash(lagging)
  for (let i = 0; i < 30; i++) c.propose(`value-${i}`)
  c.run(3)
  for (const id of othersThan(c, lagging)) c.compact(id)
  return { c, leader, lagging }
}

/** Chunks sent to `to`; `drop` holds one back (it never reaches the network). */
function watchChunks(c: TestCluster, to: NodeId, drop: (m: InstallSnapshot, seen: number) => boolean = () => false): InstallSnapshot[] {
  const chunks: InstallSnapshot[] = []
  c.filter = (m) => {
    if (m.type !== 'install-snapshot' || m.to !== to) return true
    const chunk = m as InstallSnapshot
    if (drop(chunk, chunks.length)) return false
    chunks.push(chunk)
    return true
  }
  return chunks
}

describe('catch-up by a snapshot in chunks', () => {
  it('sends the snapshot as many chunks within the bound and the replica applies it whole', () => {
    const { c, leader, lagging } = laggingReplica(31)
    const chunks = watchChunks(c, lagging)
    c.start(lagging)
    c.run(20)
    expect(c.app(lagging).log).toEqual(c.app(leader).log)
    const last = chunks.find((m) => m.done)!
    expect(last.offset + last.data.length).toBeGreaterThan(10 * 16)
    expect(chunks.every((m) => m.data.length <= 16)).toBe(true)
    expect(chunks.filter((m) => m.done)).toHaveLength(1)
    expect(chunks.map((m) => m.offset)).toEqual(chunks.map((_, i) => 16 * i)) // each once, in order
    expect(c.core(lagging).status()).toMatchObject({ firstIndex: 31, appliedIndex: 30 })
  })

  it('keeps at most maxInflightMessages chunks unacknowledged, through reordering', () => {
    const { c, leader, lagging } = laggingReplica(37, 3)
    let most = 0
    c.filter = (m) => {
      if (m.type === 'install-snapshot' && m.to === lagging) {
        most = Math.max(most, c.inFlight.filter((x) => x.type === 'install-snapshot').length + 1)
      }
      return true
    }
    c.start(lagging)
    c.run(20)
    expect(c.app(lagging).log).toEqual(c.app(leader).log)
    expect(most).toBeGreaterThan(1)
    // The sender keeps 3 unacknowledged; a rewind (this network reorders every round) may
    // leave the chunks sent before it on the wire as well: one more window at most.
    expect(most).toBeLessThanOrEqual(2 * 3 + 1)
  })

  it('resends a lost chunk from the acknowledged offset, not from 0', () => {
    const { c, leader, lagging } = laggingReplica(32)
    let lost: InstallSnapshot | null = null
    const chunks = watchChunks(c, lagging, (m, seen) => {
      if (lost !== null || seen < 4) return false
      lost = m
      return true
    })
    c.start(lagging)
    c.run(20)
    expect(c.app(lagging).log).toEqual(c.app(leader).log)
    const dropped = lost as InstallSnapshot | null
    expect(dropped?.offset).toBe(64)
    const after = chunks.slice(4)
    expect(after.every((m) => m.offset >= 64)).toBe(true)
    expect(chunks.filter((m) => m.offset === 0)).toHaveLength(1)
  })

  it('starts over with a replica that restarted mid-transfer', () => {
    const { c, leader, lagging } = laggingReplica(33)
    let cut = true
    const chunks = watchChunks(c, lagging, (_m, seen) => cut && seen >= 3)
    c.start(lagging)
    c.run(2)
    expect(chunks).toHaveLength(3)
    c.crash(lagging)
    c.start(lagging)
    cut = false
    c.run(20)
    expect(c.app(lagging).log).toEqual(c.app(leader).log)
    expect(chunks.filter((m) => m.offset === 0)).toHaveLength(2)
  })

  it('a candidate behind an acceptor\'s snapshot steps aside, and the up-to-date replica leads and catches it up', () => {
    const { c, leader, lagging } = laggingReplica(34, 1, { nodeOptions: { n1: { preVote: false }, n2: { preVote: false }, n3: { preVote: false } } })
    c.crash(leader)
    c.start(lagging)
    const other = othersThan(c, leader).find((id) => id !== lagging)!
    const promises: PaxosPromise[] = []
    const previous = c.filter
    c.filter = (m) => {
      if (m.type === 'promise' && m.to === lagging) promises.push(m as PaxosPromise)
      return previous(m)
    }
    // Only the lagging replica's clock runs: it campaigns first.
    for (let t = 0; t < 200 && promises.length === 0; t++) {
      c.core(lagging).tick()
      c.stabilize()
    }
    expect(promises[0]).toMatchObject({ from: other, complete: false, accepted: [] })
    expect(promises[0]!.snapshotIndex).toBeGreaterThanOrEqual(promises[0]!.fromSlot)
    expect(c.core(lagging).status().role).toBe('follower')
    c.run(60)
    expect(c.leader()).toBe(other)
    expect(c.app(lagging).log).toEqual(c.app(other).log)
  })
})

describe('byte bounds', () => {
  it('a Promise too large for one message comes in parts, and the new leader recovers every slot', () => {
    const bound = 2 * cost(100)
    const c = new TestCluster({ size: 3, seed: 35, byteBounds: { maxBytesPerMessage: bound } })
    const leader = c.waitForLeader()
    // Accepts reach the acceptors; nothing reaches the leader, so nothing is chosen.
    c.filter = (m) => (m.from === leader ? m.type === 'accept' : m.to !== leader)
    const values = Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(100, '.'))
    for (const v of values) c.core(leader).propose(bytes(v))
    c.stabilize()
    c.crash(leader)
    const promises: PaxosPromise[] = []
    c.filter = (m) => {
      if (m.type === 'promise') promises.push(m as PaxosPromise)
      return true
    }
    c.run(60)
    const next = c.leader()
    expect(next).not.toBeNull()
    expect(promises.filter((p) => !p.complete).length).toBeGreaterThanOrEqual(2)
    for (const p of promises) {
      const size = p.accepted.reduce((n, e) => n + cost(e.type === 'normal' ? e.data.length : 0), 0)
      expect(size <= bound || p.accepted.length === 1).toBe(true)
    }
    // Every value the acceptors accepted (a window of Accepts) is recovered, in order.
    const recovered = c.app(next!).log.filter((v) => v !== 'noop')
    expect(recovered.length).toBeGreaterThanOrEqual(6)
    expect(recovered).toEqual(values.slice(0, recovered.length))
  })

  it('an Accept carries at most maxBytesPerMessage of slots, a larger one alone', () => {
    const bound = 2 * cost(100) + 10
    const c = new TestCluster({ size: 3, seed: 36, byteBounds: { maxBytesPerMessage: bound } })
    c.waitForLeader()
    const accepts: PeerMessage[] = []
    c.filter = (m) => {
      if (m.type === 'accept') accepts.push(m)
      return true
    }
    for (let i = 0; i < 7; i++) c.core(c.leader()!).propose(bytes('x'.repeat(100)))
    c.core(c.leader()!).propose(bytes('y'.repeat(1000)))
    c.run(5)
    const entriesOf = (m: PeerMessage) => (m as unknown as { entries: Entry[] }).entries
    expect(Math.max(...accepts.map((m) => entriesOf(m).length))).toBe(2)
    expect(accepts.some((m) => entriesOf(m).length === 1 && entriesOf(m)[0]!.type === 'normal' &&
      (entriesOf(m)[0] as { data: Uint8Array }).data.length === 1000)).toBe(true)
    for (const id of c.ids) expect(c.app(id).log.filter((v) => v !== 'noop')).toHaveLength(8)
  })

  it('a Ready persists at most maxPersistBytesPerReady and holds acknowledgements and the watermark back until the rest is durable', () => {
    const acceptor = createPaxos({
      id: 'n2', members: ['n1', 'n2', 'n3'], electionTimeoutTicks: 10, heartbeatTicks: 2, random: () => 0.5,
      maxEntriesPerMessage: 64, maxInflightMessages: 4, persisted: null,
      maxBytesPerMessage: 2 * cost(100), maxPersistBytesPerReady: 2 * cost(100), maxApplyBytesPerReady: cost(100),
    })
    const entries: Entry[] = Array.from({ length: 5 }, (_, i) => ({ type: 'normal', index: i + 1, term: 1, data: bytes('v'.repeat(100)) }))
    acceptor.step({ type: 'accept', from: 'n1', to: 'n2', term: 1, commitIndex: 5, entries } as PeerMessage)
    const readies: Ready[] = []
    for (let ready = acceptor.ready(); ready !== null; ready = acceptor.ready()) {
      readies.push(ready)
      acceptor.advance(ready)
    }
    expect(readies.map((r) => r.entries.map((e) => e.index))).toEqual([[1, 2], [3, 4], [5], [], [], []])
    expect(readies.map((r) => r.messagesAfterPersist.map((m) => m.type))).toEqual([[], [], ['accepted'], [], [], []])
    expect(readies.map((r) => r.hardState?.commit)).toEqual([2, 4, 5, undefined, undefined, undefined])
    // One committed slot per Ready (maxApplyBytesPerReady), and only once durable (advanced).
    expect(readies.map((r) => r.committed.map((e) => e.index))).toEqual([[], [1], [2], [3], [4], [5]])
  })
})
