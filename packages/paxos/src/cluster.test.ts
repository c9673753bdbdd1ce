import type { NodeId } from '@kv/consensus'
import { describe, expect, it } from 'vitest'
import type { Accept, Heartbeat, PaxosMessage } from './messages.js'
import { bytes, TestCluster } from './test-cluster.js'

const othersThan = (c: TestCluster, ...ids: NodeId[]): NodeId[] => c.ids.filter((id) => !ids.includes(id))

describe('stable leader', () => {
  it('elects one leader that every replica follows, and commits in order', () => {
    const c = new TestCluster({ size: 3, seed: 1 })
    const leader = c.waitForLeader()
    for (const value of ['a', 'b', 'c']) c.propose(value)
    c.run(3)
    for (const id of c.ids) {
      expect(c.app(id).log).toEqual(['a', 'b', 'c'])
      expect(c.core(id).status()).toMatchObject({ leader, commitIndex: 3 })
    }
  })

  it('a deposed leader in a minority holds a lower ballot and commits nothing', () => {
    const c = new TestCluster({ size: 5, seed: 2 })
    const old = c.waitForLeader()
    const oldBallot = c.core(old).status().term
    c.isolate(old)
    c.core(old).propose(bytes('lost'))
    const fresh = c.waitForLeader()
    expect(fresh).not.toBe(old)
    expect(c.core(fresh).status().term).toBeGreaterThan(oldBallot)
    c.propose('kept')
    c.run(5)
    expect(c.app(old).log).toEqual([])
    for (const id of othersThan(c, old)) expect(c.app(id).log).toEqual(['kept'])
    c.heal()
    c.run(30)
    expect(c.app(old).log).toEqual(['kept'])
  })

  it('resends a lost Accept even after duplicated Accepted replies brought the in-flight count to zero', () => {
    const c = new TestCluster({ size: 3, seed: 4, maxEntriesPerMessage: 1, maxInflightMessages: 4 })
    const leader = c.waitForLeader()
    const slotA = c.core(leader).status().lastIndex + 1
    c.filter = (m) => {
      const msg = m as PaxosMessage
      // Every follower's Accepted for the first slot arrives twice...
      if (msg.type === 'accepted' && msg.slots.includes(slotA)) c.inFlight.push(structuredClone(m))
      // ...and every Accept of the second slot is lost, once.
      return !(msg.type === 'accept' && msg.entries.some((e) => e.index === slotA + 1))
    }
    c.core(leader).propose(bytes('a'))
    c.processReady(leader)
    c.core(leader).propose(bytes('b'))
    c.processReady(leader)
    c.run(3)
    c.filter = () => true
    c.run(30)
    for (const id of c.ids) expect(c.app(id).log).toEqual(['a', 'b'])
  })

  it('restarts a lost catch-up under a steady read load (read rounds do not stop the catch-up clock)', () => {
    // Found by the simulator: every read round broadcasts heartbeats and resets the heartbeat
    // timer, so under steady reads the tick that restarts lost catch-up chains never came,
    // and a replica whose Learn (or LearnReply) was lost stayed behind for good.
    const c = new TestCluster({ size: 3, seed: 5, heartbeatTicks: 2 })
    const leader = c.waitForLeader()
    const lagging = othersThan(c, leader)[0]!
    c.isolate(lagging)
    for (const value of ['a', 'b', 'c']) c.propose(value)
    c.run(3)
    let learnsLost = 0
    c.filter = (m) => !((m as PaxosMessage).type === 'learn' && m.to === lagging && learnsLost++ === 0)
    c.heal()
    for (let t = 1; t <= 40; t++) {
      expect(c.core(leader).readIndex(t)).toBeNull() // one read round per tick
      c.run(1)
    }
    expect(learnsLost).toBeGreaterThan(0)
    expect(c.app(lagging).log).toEqual(['a', 'b', 'c'])
  })

  it('batches many slots per Accept and pipelines up to maxInflightMessages per follower', () => {
    const c = new TestCluster({ size: 3, seed: 3, maxEntriesPerMessage: 4, maxInflightMessages: 2 })
    const leader = c.waitForLeader()
    const before = c.sent.length
    for (let i = 0; i < 20; i++) c.core(leader).propose(bytes(`v${i}`))
    c.processReady(leader)
    const firstWave = c.sent.slice(before).filter((m): m is Accept => m.type === 'accept')
    // Two in flight per follower, four slots each; the rest waits for acknowledgements.
    expect(firstWave).toHaveLength(4)
    expect(firstWave.every((m) => m.entries.length === 4)).toBe(true)
    c.stabilize()
    const accepts = c.sent.slice(before).filter((m): m is Accept => m.type === 'accept')
    expect(accepts.filter((m) => m.to === othersThan(c, leader)[0])).toHaveLength(5)
    expect(accepts.every((m) => m.entries.length <= 4)).toBe(true)
    c.run(2)
    for (const id of c.ids) expect(c.app(id).log).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`))
  })

  it('hands leadership over on request', () => {
    const c = new TestCluster({ size: 3, seed: 4 })
    const leader = c.waitForLeader()
    const target = othersThan(c, leader)[0]!
    c.core(leader).transferLeadership(target)
    c.stabilize()
    expect(c.leader()).toBe(target)
    c.propose('after')
    c.run(3)
    for (const id of c.ids) expect(c.app(id).log).toEqual(['after'])
  })
})

describe('recovery', () => {
  it('re-proposes the value of the highest accepted ballot for a slot', () => {
    const c = new TestCluster({ size: 5, seed: 5 })
    const first = c.waitForLeader()
    // The first leader accepts x at slot 1, alone.
    c.isolate(first)
    c.core(first).propose(bytes('x'))
    c.stabilize()
    const second = c.waitForLeader()
    expect(second).not.toBe(first)
    // The second leader (higher ballot) accepts y at slot 1, alone.
    c.filter = (m) => !(m.from === second && m.type === 'accept')
    c.core(second).propose(bytes('y'))
    c.stabilize()
    const [candidate, d, e] = othersThan(c, first, second) as [NodeId, NodeId, NodeId]
    // A third proposer's quorum is exactly {itself, first, second}: it sees (b1, x) and (b2, y).
    c.crash(d)
    c.crash(e)
    c.heal()
    c.filter = (m) => m.from === candidate || m.type === 'promise'
    c.core(candidate).step({ type: 'timeout-now', from: second, to: candidate, term: c.core(second).status().term })
    c.stabilize()
    expect(c.core(candidate).status().role).toBe('leader')
    c.filter = () => true
    c.start(d)
    c.start(e)
    c.run(30)
    for (const id of c.ids) expect(c.app(id).log).toEqual(['y'])
  })

  it('leaves holes with skipSlots; nothing at or above a hole executes until the next leader fills it with a noop', () => {
    const c = new TestCluster({ size: 3, seed: 6, nodeOptions: { n1: { skipSlots: [3, 5] }, n2: { skipSlots: [3, 5] }, n3: { skipSlots: [3, 5] } } })
    const leader = c.waitForLeader()
    const slots = ['a', 'b', 'c', 'd', 'e'].map((v) => c.propose(v))
    expect(slots).toEqual([1, 2, 4, 6, 7])
    c.run(5)
    for (const id of c.ids) {
      expect(c.app(id).log).toEqual(['a', 'b'])
      expect(c.core(id).status().commitIndex).toBe(2)
    }
    c.crash(leader)
    const next = c.waitForLeader()
    expect(next).not.toBe(leader)
    c.run(5)
    const expected = ['a', 'b', 'noop', 'c', 'noop', 'd', 'e']
    for (const id of othersThan(c, leader)) expect(c.app(id).log).toEqual(expected)
    expect(c.propose('f')).toBe(8)
    c.start(leader)
    c.run(20)
    for (const id of c.ids) expect(c.app(id).log).toEqual([...expected, 'f'])
  })
})

describe('snapshots and restarts', () => {
  it('sends a snapshot to a replica whose missing slots were compacted away', () => {
    const c = new TestCluster({ size: 3, seed: 7, maxEntriesPerMessage: 5 })
    const leader = c.waitForLeader()
    const lagging = othersThan(c, leader)[0]!
    c.crash(lagging)
    for (let i = 0; i < 30; i++) c.propose(`v${i}`)
    c.run(3)
    for (const id of othersThan(c, lagging)) expect(c.compact(id).index).toBe(30)
    expect(c.core(leader).status().firstIndex).toBe(31)
    c.start(lagging)
    c.propose('after')
    c.run(20)
    const expected = [...Array.from({ length: 30 }, (_, i) => `v${i}`), 'after']
    for (const id of c.ids) expect(c.app(id).log).toEqual(expected)
    expect(c.sent.some((m) => m.type === 'install-snapshot' && m.to === lagging)).toBe(true)
  })

  it('catches up a replica that missed chosen values without a snapshot', () => {
    const c = new TestCluster({ size: 3, seed: 8, maxEntriesPerMessage: 3 })
    const leader = c.waitForLeader()
    const lagging = othersThan(c, leader)[0]!
    c.isolate(lagging)
    for (let i = 0; i < 10; i++) c.propose(`v${i}`)
    c.run(3)
    c.heal()
    c.run(20)
    expect(c.app(lagging).log).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`))
    expect(c.sent.some((m) => m.type === 'learn' && m.to === lagging)).toBe(true)
  })

  it('restarts every node from persisted state and keeps going', () => {
    const c = new TestCluster({ size: 3, seed: 9 })
    c.waitForLeader()
    for (const v of ['a', 'b', 'c']) c.propose(v)
    c.run(3)
    c.compact('n1')
    for (const id of c.ids) c.crash(id)
    for (const id of c.ids) c.start(id)
    c.run(1)
    for (const id of c.ids) expect(c.app(id).log).toEqual(['a', 'b', 'c'])
    c.propose('d')
    c.run(3)
    for (const id of c.ids) expect(c.app(id).log).toEqual(['a', 'b', 'c', 'd'])
  })

  it('survives the primary dying f times (5 nodes, f = 2)', () => {
    const c = new TestCluster({ size: 5, seed: 10 })
    const dead: NodeId[] = []
    const expected: string[] = []
    for (let round = 0; round < 3; round++) {
      const leader = c.waitForLeader()
      expect(dead).not.toContain(leader)
      for (let i = 0; i < 3; i++) {
        expected.push(`r${round}-${i}`)
        c.propose(`r${round}-${i}`)
      }
      c.run(3)
      for (const id of c.upNodes()) expect(c.app(id).log).toEqual(expected)
      if (round < 2) {
        c.crash(leader)
        dead.push(leader)
      }
    }
  })
})

describe('linearizable reads', () => {
  it('batches the reads queued during a round into the next round', () => {
    const c = new TestCluster({ size: 3, seed: 11 })
    const leader = c.waitForLeader()
    c.propose('a')
    c.run(2)
    const before = c.sent.length
    const core = c.core(leader)
    expect(core.readIndex(1)).toBeNull()
    expect(core.readIndex(2)).toBeNull()
    c.processReady(leader)
    expect(core.readIndex(3)).toBeNull()
    c.stabilize()
    const rounds = new Set(
      c.sent
        .slice(before)
        .filter((m): m is Heartbeat => m.type === 'heartbeat')
        .map((m) => m.readRound)
        .filter((round) => round > 0),
    )
    expect(rounds.size).toBe(2)
    expect(c.app(leader).readStates).toEqual([
      { ctx: 1, index: 1 },
      { ctx: 2, index: 1 },
      { ctx: 3, index: 1 },
    ])
  })

  it('refuses reads on a follower with a leader hint', () => {
    const c = new TestCluster({ size: 3, seed: 12 })
    const leader = c.waitForLeader()
    expect(c.core(othersThan(c, leader)[0]!).readIndex(1)).toEqual({ type: 'not-leader', leader })
  })

  it('fails pending reads when the leader loses its ballot', () => {
    const c = new TestCluster({ size: 3, seed: 13 })
    const leader = c.waitForLeader()
    c.isolate(leader)
    c.core(leader).readIndex(7)
    c.run(40)
    expect(c.core(leader).status().role).not.toBe('leader')
    expect(c.app(leader).readStates).toEqual([{ ctx: 7, index: null }])
  })

  it('a leader partitioned away while a newer ballot chooses values confirms no read', () => {
    const c = new TestCluster({ size: 3, seed: 17 })
    const old = c.waitForLeader()
    const majority = othersThan(c, old)
    c.propose('a')
    c.run(2)
    // The old leader's clock stops (a paused process): it never notices it lost its
    // quorum, so only the barrier's round can tell it that a newer ballot exists.
    c.isolate(old)
    for (let t = 0; t < 100 && c.leader() === old; t++) {
      for (const id of majority) c.core(id).tick()
      c.stabilize()
    }
    const fresh = c.leader()!
    expect(majority).toContain(fresh)
    c.propose('kept')
    c.stabilize()
    expect(c.app(fresh).log).toEqual(['a', 'kept'])
    expect(c.core(old).status().role).toBe('leader')
    expect(c.core(old).readIndex(1)).toBeNull()
    c.stabilize()
    expect(c.app(old).readStates).toEqual([])
    // Healed, its clock resumes alone: the acceptors must reject its heartbeats (they
    // promised a newer ballot) rather than answer them, so the read fails.
    c.heal()
    for (let t = 0; t < 4; t++) {
      c.core(old).tick()
      c.stabilize()
    }
    expect(c.app(old).readStates).toEqual([{ ctx: 1, index: null }])
    expect(c.core(old).status().role).toBe('follower')
  })

  it('answers at once in a group of one', () => {
    const c = new TestCluster({ size: 1, seed: 14 })
    const leader = c.waitForLeader()
    c.propose('a')
    c.stabilize()
    c.core(leader).readIndex(5)
    c.processReady(leader)
    expect(c.app(leader).readStates).toEqual([{ ctx: 5, index: 1 }])
  })

  it("a new leader's read index covers every write the previous leader acknowledged", () => {
    const c = new TestCluster({ size: 3, seed: 15 })
    const first = c.waitForLeader()
    for (const v of ['a', 'b']) c.propose(v)
    c.run(3)
    expect(c.app(first).log).toEqual(['a', 'b'])
    c.crash(first)
    const next = c.waitForLeader()
    c.core(next).readIndex(9)
    c.stabilize()
    const answer = c.app(next).readStates.find((r) => r.ctx === 9)
    expect(answer?.index).toBeGreaterThanOrEqual(2)
  })

  it("a new leader answers no read until its recovered slots are chosen at its ballot", () => {
    const c = new TestCluster({ size: 3, seed: 16 })
    const old = c.waitForLeader()
    const [fresh, other] = othersThan(c, old) as [NodeId, NodeId]
    // `fresh` accepts a and b but never hears that they were chosen; later, as leader, the
    // acceptances of its recovery are held back until `holdAccepted` is lifted.
    const tellsChosen = (m: PaxosMessage): boolean =>
      m.type === 'commit' || m.type === 'learn' || m.type === 'install-snapshot' ||
      ((m.type === 'heartbeat' || m.type === 'accept') && m.commitIndex > 0)
    let holdAccepted = true
    c.filter = (m) => m.to !== fresh || !(tellsChosen(m as PaxosMessage) || (holdAccepted && m.type === 'accepted'))
    c.propose('a')
    c.propose('b')
    c.run(3)
    expect(c.app(other).log).toEqual(['a', 'b'])
    expect(c.core(fresh).status()).toMatchObject({ commitIndex: 0, lastIndex: 2 })
    c.core(old).transferLeadership(fresh)
    c.stabilize()
    expect(c.core(fresh).status()).toMatchObject({ role: 'leader', commitIndex: 0 })
    // Its watermark (0) is below the recovered slots (1..2), which a and b were chosen in.
    c.core(fresh).readIndex(9)
    c.run(5) // heartbeats at its ballot are answered: a barrier round would complete
    expect(c.core(fresh).status()).toMatchObject({ role: 'leader', commitIndex: 0 })
    expect(c.app(fresh).readStates).toEqual([])
    holdAccepted = false
    c.run(5)
    expect(c.core(fresh).status()).toMatchObject({ role: 'leader', commitIndex: 2 })
    expect(c.app(fresh).readStates).toEqual([{ ctx: 9, index: 2 }])
  })
})
