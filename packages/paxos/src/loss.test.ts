import type { NodeId, PeerMessage } from '@kv/consensus'
import { describe, expect, it } from 'vitest'
import type { Accept, Heartbeat } from './messages.js'
import { bytes, TestCluster } from './test-cluster.js'

/**
 * What a lost message costs. The test network delivers within a tick (a round trip far
 * below a tick, as on one machine), and heartbeats are rare here (every 8 ticks), so
 * anything that recovers within a tick or two did not wait for a heartbeat.
 */
const HEARTBEAT_TICKS = 8
const ELECTION_TIMEOUT_TICKS = 20

function cluster(seed: number): TestCluster {
  return new TestCluster({ size: 3, seed, heartbeatTicks: HEARTBEAT_TICKS, electionTimeoutTicks: ELECTION_TIMEOUT_TICKS })
}

const othersThan = (c: TestCluster, id: NodeId): NodeId[] => c.ids.filter((x) => x !== id)

/** Drops the first message of each type matching `what` on each link; returns how many it dropped. */
function dropFirst(c: TestCluster, what: (m: PeerMessage) => boolean): () => number {
  const dropped = new Set<string>()
  c.filter = (m) => {
    const link = `${m.type} ${m.from}>${m.to}`
    if (!what(m) || dropped.has(link)) return true
    dropped.add(link)
    return false
  }
  return () => dropped.size
}

const carriesSlot = (m: PeerMessage, slot: number): boolean =>
  m.type === 'accept' && (m as Accept).entries.some((e) => e.index === slot)

/** A leader with a few answered Accepts behind it, so it has measured its round trips. */
function warmLeader(c: TestCluster): NodeId {
  const leader = c.waitForLeader()
  for (let i = 0; i < 5; i++) {
    c.propose(`warm-${i}`)
    c.run(1)
  }
  return leader
}

describe('message loss', () => {
  it('sends a lost Accept again at the next tick, not a heartbeat interval later', () => {
    const c = cluster(21)
    const leader = warmLeader(c)
    const slot = c.propose('x')
    const dropped = dropFirst(c, (m) => carriesSlot(m, slot))
    c.stabilize()
    expect(dropped()).toBe(2) // to both acceptors: the slot cannot be chosen
    expect(c.core(leader).status().commitIndex).toBe(slot - 1)
    c.run(1)
    expect(c.core(leader).status().commitIndex).toBe(slot)
    expect(c.app(leader).log.at(-1)).toBe('x')
  })

  it('sends an Accept again at once when an Accept sent after it is answered first', () => {
    const c = cluster(22)
    const leader = warmLeader(c)
    const slot = c.propose('lost')
    dropFirst(c, (m) => carriesSlot(m, slot))
    c.stabilize()
    expect(c.core(leader).status().commitIndex).toBe(slot - 1)
    c.core(leader).propose(bytes('later'))
    c.stabilize() // no tick: only the answers to the later Accepts can have prompted the copies
    for (const follower of othersThan(c, leader)) {
      expect(c.sent.filter((m) => m.to === follower && carriesSlot(m, slot))).toHaveLength(2)
    }
    expect(c.core(leader).status().commitIndex).toBe(slot + 1)
    expect(c.app(leader).log.slice(-2)).toEqual(['lost', 'later'])
  })

  it('keeps resending to acceptors that never answer, backing off to the heartbeat interval', () => {
    const c = cluster(23)
    const leader = warmLeader(c)
    const follower = othersThan(c, leader)[0]!
    // The acceptors hear the leader (so they stay with it) but their answers are lost.
    c.filter = (m) => m.to !== leader
    const slot = c.propose('to-the-void')
    c.run(4 * HEARTBEAT_TICKS)
    const copies = c.sent.filter((m) => m.to === follower && carriesSlot(m, slot)).length
    // 1, 2, 4, 8, 8, ... ticks apart: a handful, not one per tick.
    expect(copies).toBeGreaterThanOrEqual(5)
    expect(copies).toBeLessThanOrEqual(8)
    expect(c.core(leader).status().role).toBe('leader')
    c.filter = () => true
    c.run(HEARTBEAT_TICKS + 1)
    expect(c.app(leader).log.at(-1)).toBe('to-the-void')
    expect(c.app(follower).log.at(-1)).toBe('to-the-void')
  })

  it('asks again for a read barrier acknowledgement that was lost', () => {
    const c = cluster(24)
    const leader = warmLeader(c)
    const dropped = dropFirst(c, (m) => m.type === 'heartbeat' && (m as Heartbeat).readRound > 0)
    expect(c.core(leader).readIndex(1)).toBeNull()
    c.stabilize()
    expect(dropped()).toBe(2)
    expect(c.app(leader).readStates).toEqual([])
    c.run(1)
    expect(c.app(leader).readStates).toEqual([{ ctx: 1, index: c.core(leader).status().commitIndex }])
  })

  it('a candidate sends its Prepare again to acceptors that did not answer, in the same view', () => {
    const c = cluster(25)
    const dropped = dropFirst(c, (m) => m.type === 'prepare' || m.type === 'pre-prepare')
    const leader = c.waitForLeader(ELECTION_TIMEOUT_TICKS * 3)
    expect(dropped()).toBeGreaterThanOrEqual(4)
    const prepares = c.sent.filter((m) => m.type === 'prepare' && m.from === leader)
    // Every Prepare of the winner carried one ballot: the lost ones were repeated, no new view.
    expect(new Set(prepares.map((m) => m.term))).toEqual(new Set([c.core(leader).status().term]))
    expect(prepares.length).toBeGreaterThan(c.ids.length - 1)
  })

  it('a leader steps down after hearing from no quorum for two election timeouts, not one', () => {
    const c = cluster(26)
    const leader = warmLeader(c)
    c.isolate(leader)
    c.run(2 * ELECTION_TIMEOUT_TICKS - 2)
    expect(c.core(leader).status().role).toBe('leader')
    c.run(3)
    expect(c.core(leader).status().role).not.toBe('leader')
  })

  it('a leader that hears from one acceptor now and then keeps its ballot', () => {
    const c = cluster(27)
    const leader = warmLeader(c)
    const ballot = c.core(leader).status().term
    const [far, near] = othersThan(c, leader) as [NodeId, NodeId]
    c.isolate(far)
    // `near` answers one heartbeat in three: under loss, silence for a while is no partition.
    let n = 0
    c.filter = (m) => m.from !== near || m.type !== 'heartbeat-reply' || n++ % 3 === 0
    c.run(6 * ELECTION_TIMEOUT_TICKS)
    expect(c.core(leader).status()).toMatchObject({ role: 'leader', term: ballot })
  })
})
