import { createRng, type ConsensusCore, type CoreConfig, type Entry, type PersistedState, type Ready } from '@kv/consensus'
import { describe, expect, it } from 'vitest'
import { createPaxos } from './index.js'
import type { PaxosMessage } from './messages.js'
import { bytes } from './test-cluster.js'

const MEMBERS = ['n1', 'n2', 'n3']

/** Pre-vote is off unless a test is about it, so one tick sequence leads straight to phase 1. */
function config(
  id: string,
  members = MEMBERS,
  persisted: PersistedState | null = null,
  options: Record<string, unknown> = { preVote: false },
): CoreConfig {
  return {
    options,
    id,
    members,
    electionTimeoutTicks: 10,
    heartbeatTicks: 2,
    random: (() => {
      const rng = createRng(7)
      return () => rng.next()
    })(),
    maxEntriesPerMessage: 8,
    maxInflightMessages: 2,
    persisted,
  }
}

function msg<M extends PaxosMessage>(m: M): M {
  return m
}

/** Ticks until the core hands out a Ready, which is returned unadvanced. */
function tickUntilReady(core: ConsensusCore): Ready {
  for (let t = 0; t < 100; t++) {
    core.tick()
    const ready = core.ready()
    if (ready !== null) return ready
  }
  throw new Error('no Ready after 100 ticks')
}

function drain(core: ConsensusCore): Ready[] {
  const readies: Ready[] = []
  for (let ready = core.ready(); ready !== null; ready = core.ready()) {
    readies.push(ready)
    core.advance(ready)
  }
  return readies
}

describe('persistence ordering', () => {
  it('sends a Promise only after the promised ballot is durable', () => {
    const core = createPaxos(config('n2'))
    core.step(msg({ type: 'prepare', from: 'n1', to: 'n2', term: 65, commitIndex: 0, fromSlot: 1 }))
    const ready = core.ready()!
    expect(ready.hardState).toEqual({ term: 65, vote: null, commit: 0 })
    expect(ready.messagesNow).toEqual([])
    expect(ready.messagesAfterPersist).toMatchObject([{ type: 'promise', to: 'n1', term: 65, accepted: [] }])
  })

  it('sends an Accepted only after the accepted slots are durable', () => {
    const core = createPaxos(config('n2'))
    const entry: Entry = { type: 'normal', index: 1, term: 65, data: bytes('x') }
    core.step(msg({ type: 'accept', from: 'n1', to: 'n2', term: 65, commitIndex: 0, entries: [entry] }))
    const ready = core.ready()!
    expect(ready.entries).toEqual([entry])
    expect(ready.messagesNow).toEqual([])
    expect(ready.messagesAfterPersist).toMatchObject([{ type: 'accepted', slots: [1], term: 65 }])
  })

  it('sends its Prepare only after its own ballot is durable', () => {
    const core = createPaxos(config('n1'))
    const ready = tickUntilReady(core)
    expect(core.status().role).toBe('candidate')
    expect(ready.hardState?.term).toBe(1)
    expect(ready.messagesNow).toEqual([])
    expect(ready.messagesAfterPersist.map((m) => m.type)).toEqual(['prepare', 'prepare'])
  })

  it('a leader sends Accepts at once but counts its own acceptance only after advance', () => {
    const core = createPaxos(config('n1', ['n1']))
    drain(core)
    core.advance(tickUntilReady(core))
    expect(core.status().role).toBe('leader')
    core.propose(bytes('a'))
    const first = core.ready()!
    expect(first.entries).toMatchObject([{ index: 1, type: 'normal' }])
    expect(first.committed).toEqual([])
    expect(core.status().commitIndex).toBe(0)
    core.advance(first)
    const second = core.ready()!
    expect(second.committed).toMatchObject([{ index: 1 }])
  })

  it("does not choose a slot from one acceptor's vote while its own copy is not durable", () => {
    const core = createPaxos(config('n1'))
    core.advance(tickUntilReady(core))
    core.step(msg({ type: 'promise', from: 'n2', to: 'n1', term: 1, commitIndex: 0, fromSlot: 1, accepted: [], complete: true, snapshotIndex: 0 }))
    expect(core.status().role).toBe('leader')
    const { index } = core.propose(bytes('a')) as { index: number }
    const ready = core.ready()!
    expect(ready.entries.map((e) => e.index)).toContain(index)
    // n2 accepted it, but the leader's own acceptance is in the Ready still being persisted:
    // one durable acceptor of three is no quorum (a crash now would lose the leader's copy).
    core.step(msg({ type: 'accepted', from: 'n2', to: 'n1', term: 1, slots: [index], commitIndex: 0 }))
    expect(core.status().commitIndex).toBe(0)
    core.advance(ready)
    expect(core.status().commitIndex).toBe(index)
  })

  it("puts the leader's Accepts in messagesNow", () => {
    const core = createPaxos(config('n1'))
    core.advance(tickUntilReady(core))
    core.step(msg({ type: 'promise', from: 'n2', to: 'n1', term: 1, commitIndex: 0, fromSlot: 1, accepted: [], complete: true, snapshotIndex: 0 }))
    expect(core.status().role).toBe('leader')
    core.propose(bytes('a'))
    const ready = core.ready()!
    expect(ready.messagesNow.filter((m) => m.type === 'accept')).toHaveLength(2)
    expect(ready.messagesAfterPersist).toEqual([])
  })
})

describe('view change', () => {
  it('one Prepare covers every slot; recovery re-proposes the highest-ballot value and fills holes', () => {
    const five = ['n1', 'n2', 'n3', 'n4', 'n5']
    const core = createPaxos(config('n3', five))
    core.advance(tickUntilReady(core))
    const ballot = core.status().term
    expect(ballot).toBe(3)
    // n1 accepted x at ballot 1 and n2 accepted y at ballot 2 for slot 2; slot 1 and 3 are
    // holes nobody in this quorum accepted; slot 4 has z.
    const x: Entry = { type: 'normal', index: 2, term: 1, data: bytes('x') }
    const y: Entry = { type: 'normal', index: 2, term: 2, data: bytes('y') }
    const z: Entry = { type: 'normal', index: 4, term: 1, data: bytes('z') }
    core.step(msg({ type: 'promise', from: 'n1', to: 'n3', term: ballot, commitIndex: 0, fromSlot: 1, accepted: [x, z], complete: true, snapshotIndex: 0 }))
    expect(core.status().role).toBe('candidate')
    core.step(msg({ type: 'promise', from: 'n2', to: 'n3', term: ballot, commitIndex: 0, fromSlot: 1, accepted: [y], complete: true, snapshotIndex: 0 }))
    expect(core.status().role).toBe('leader')
    const ready = core.ready()!
    const plan = ready.entries.map((e) => [e.index, e.term, e.type === 'normal' ? new TextDecoder().decode(e.data) : e.type])
    expect(plan).toEqual([
      [1, 3, 'noop'],
      [2, 3, 'y'],
      [3, 3, 'noop'],
      [4, 3, 'z'],
    ])
    expect(core.propose(bytes('new'))).toEqual({ index: 5, term: 3 })
  })

  it('a higher ballot makes a leader step down', () => {
    const core = createPaxos(config('n1', ['n1']))
    core.advance(tickUntilReady(core))
    expect(core.status().role).toBe('leader')
    // A stranger cannot depose it: n9 is no member.
    core.step({ type: 'reject', from: 'n9', to: 'n1', term: 50 })
    expect(core.status().role).toBe('leader')
    const three = createPaxos(config('n1'))
    three.advance(tickUntilReady(three))
    three.step(msg({ type: 'promise', from: 'n2', to: 'n1', term: 1, commitIndex: 0, fromSlot: 1, accepted: [], complete: true, snapshotIndex: 0 }))
    expect(three.status().role).toBe('leader')
    three.step(msg({ type: 'reject', from: 'n3', to: 'n1', term: 6 }))
    expect(three.status()).toMatchObject({ role: 'follower', term: 6, leader: null })
  })
})

describe('pre-vote', () => {
  it('bumps no ballot until a quorum says it would promise', () => {
    const core = createPaxos(config('n1', MEMBERS, null, {}))
    const ready = tickUntilReady(core)
    expect(core.status()).toMatchObject({ role: 'pre-candidate', term: 0 })
    expect(ready.hardState).toBeNull()
    expect(ready.messagesNow.map((m) => m.type)).toEqual(['pre-prepare', 'pre-prepare'])
    core.advance(ready)
    core.step(msg({ type: 'pre-promise', from: 'n2', to: 'n1', term: 1, granted: false }))
    expect(core.status().role).toBe('pre-candidate')
    core.step(msg({ type: 'pre-promise', from: 'n3', to: 'n1', term: 1, granted: true }))
    expect(core.status()).toMatchObject({ role: 'candidate', term: 1 })
  })

  it('a replica that hears from a live leader refuses to help depose it', () => {
    const core = createPaxos(config('n2', MEMBERS, null, {}))
    core.step(msg({ type: 'heartbeat', from: 'n1', to: 'n2', term: 1, commitIndex: 0, readRound: 0 }))
    core.step(msg({ type: 'pre-prepare', from: 'n3', to: 'n2', term: 3 }))
    expect(drain(core)[0]?.messagesNow).toContainEqual(
      expect.objectContaining({ type: 'pre-promise', to: 'n3', granted: false }),
    )
    expect(core.status().term).toBe(1)
  })
})

describe('restart', () => {
  it('re-hands out committed slots after the snapshot up to the persisted commit', () => {
    const entries: Entry[] = [2, 3, 4].map((index) => ({ type: 'normal', index, term: 2, data: bytes(`v${index}`) }))
    const core = createPaxos(
      config('n2', MEMBERS, {
        hardState: { term: 5, vote: null, commit: 3 },
        snapshot: { index: 1, term: 1, data: bytes('snap') },
        entries,
      }),
    )
    expect(core.status()).toMatchObject({ term: 5, commitIndex: 3, appliedIndex: 1, firstIndex: 2, lastIndex: 4 })
    const ready = core.ready()!
    expect(ready.committed.map((e) => e.index)).toEqual([2, 3])
    expect(ready.hardState).toBeNull()
    core.advance(ready)
    expect(core.status().appliedIndex).toBe(3)
    expect(core.ready()).toBeNull()
  })

  it('never hands out past a hole in what was persisted', () => {
    const core = createPaxos(
      config('n2', MEMBERS, {
        hardState: { term: 5, vote: null, commit: 3 },
        snapshot: null,
        entries: [{ type: 'noop', index: 1, term: 2 }, { type: 'noop', index: 3, term: 2 }],
      }),
    )
    expect(core.status().commitIndex).toBe(1)
    core.checkInvariants()
  })
})
