/**
 * Several Readys in flight (see `Ready` in @kv/consensus): the acceptor answers only for what
 * the Ready carrying the answer makes durable, the leader counts its own acceptance only at
 * the advance of the Ready that wrote it, and a slot is applied only once durable.
 */
import { createRng, InvariantError, type ConsensusCore, type CoreConfig, type Entry, type Ready } from '@kv/consensus'
import { describe, expect, it } from 'vitest'
import { createPaxos } from './index.js'
import type { Accept, Commit, PaxosMessage, PaxosPromise, Prepare } from './messages.js'
import { bytes } from './test-cluster.js'

function config(id: string, members: string[], extra: Partial<CoreConfig> = {}): CoreConfig {
  const rng = createRng(7)
  return {
    id, members, electionTimeoutTicks: 10, heartbeatTicks: 2, random: () => rng.next(),
    maxEntriesPerMessage: 8, maxInflightMessages: 2, persisted: null, options: { preVote: false }, ...extra,
  }
}

const normal = (index: number, term: number, text = `v${index}`): Entry => ({ type: 'normal', index, term, data: bytes(text) })
/** A message checked against its own type (a bare literal would be checked against `PeerMessage`). */
const msg = <M extends PaxosMessage>(m: M): M => m
const slots = (entries: readonly Entry[]) => entries.map((e) => e.index)
const after = (r: Ready, type: PaxosMessage['type']) => r.messagesAfterPersist.filter((m) => m.type === type)
const accept = (term: number, commitIndex: number, entries: Entry[]): Accept => ({ type: 'accept', from: 'n1', to: 'n2', term, commitIndex, entries })

/** Ticks until the core hands out a Ready, which is returned unadvanced. */
function tickUntilReady(core: ConsensusCore): Ready {
  for (let t = 0; t < 100; t++) {
    core.tick()
    const ready = core.ready()
    if (ready !== null) return ready
  }
  throw new Error('no Ready after 100 ticks')
}

/** n1 leading a group of three at ballot 1, its phase 1 done (n2 promised), nothing proposed. */
function leader(extra: Partial<CoreConfig> = {}): ConsensusCore {
  const core = createPaxos(config('n1', ['n1', 'n2', 'n3'], extra))
  core.advance(tickUntilReady(core))
  const promise: PaxosPromise = { type: 'promise', from: 'n2', to: 'n1', term: 1, commitIndex: 0, fromSlot: 1, accepted: [], complete: true, snapshotIndex: 0 }
  core.step(promise)
  expect(core.status().role).toBe('leader')
  for (let r = core.ready(); r !== null; r = core.ready()) core.advance(r)
  return core
}

describe('Readys in flight', () => {
  it('a leader proposes into new Readys while earlier writes are in flight, and counts its own acceptance only at each advance', () => {
    const core = leader()
    core.propose(bytes('a'))
    const first = core.ready()!
    core.propose(bytes('b'))
    const second = core.ready()!
    expect(slots(first.entries)).toEqual([1])
    expect(slots(second.entries)).toEqual([2])
    expect(first.messagesNow.map((m) => m.type)).toContain('accept') // Accepts leave at once
    // n2 accepted both; without the leader's own durable acceptance that is one vote of three.
    core.step({ type: 'accepted', from: 'n2', to: 'n1', term: 1, slots: [1], commitIndex: 0 } as PaxosMessage)
    core.step({ type: 'accepted', from: 'n2', to: 'n1', term: 1, slots: [2], commitIndex: 0 } as PaxosMessage)
    expect(core.status().commitIndex).toBe(0)
    core.advance(first)
    expect(core.status().commitIndex).toBe(1)
    // Chosen and durable: applied while the second write is still in flight.
    const third = core.ready()!
    expect(slots(third.committed)).toEqual([1])
    core.advance(second)
    expect(core.status().commitIndex).toBe(2)
    core.advance(third)
    expect(slots(core.ready()!.committed)).toEqual([2])
  })

  it('refuses an advance out of hand-out order, and a Ready past maxReadysInFlight', () => {
    const core = leader({ maxReadysInFlight: 2 })
    core.propose(bytes('a'))
    const first = core.ready()!
    core.propose(bytes('b'))
    const second = core.ready()!
    expect(() => core.advance(second)).toThrow(InvariantError)
    core.propose(bytes('c'))
    expect(() => core.ready()).toThrow(InvariantError)
    core.advance(first)
    core.advance(second)
    expect(core.ready()).not.toBeNull()
  })

  it('an acceptor answers each Accept in the Ready that writes its slots, and applies them once durable', () => {
    const n2 = createPaxos(config('n2', ['n1', 'n2', 'n3']))
    n2.step(accept(1, 0, [normal(1, 1), normal(2, 1)]))
    const first = n2.ready()!
    n2.step(accept(1, 2, [normal(3, 1)]))
    const second = n2.ready()!
    expect(after(first, 'accepted')).toMatchObject([{ slots: [1, 2] }])
    expect(after(second, 'accepted')).toMatchObject([{ slots: [3] }])
    expect(second.committed).toEqual([]) // chosen, not durable here yet
    n2.advance(first)
    const third = n2.ready()!
    expect(slots(third.committed)).toEqual([1, 2])
    n2.advance(second)
    n2.advance(third)
    n2.step(msg<Commit>({ type: 'commit', from: 'n1', to: 'n2', term: 1, commitIndex: 3 }))
    expect(slots(n2.ready()!.committed)).toEqual([3])
  })

  it('a slot accepted again while its earlier write is in flight is durable only once the later Ready is advanced', () => {
    const n2 = createPaxos(config('n2', ['n1', 'n2', 'n3']))
    n2.step(accept(1, 0, [normal(1, 1, 'old')]))
    const first = n2.ready()!
    // A leader of a higher ballot (n3's 3) proposes another value for slot 1, and chooses it.
    n2.step(msg<Accept>({ type: 'accept', from: 'n3', to: 'n2', term: 3, commitIndex: 1, entries: [normal(1, 3, 'new')] }))
    const second = n2.ready()!
    expect(second.entries).toEqual([normal(1, 3, 'new')])
    n2.advance(first)
    // The durable value of slot 1 is the old one: nothing may be applied yet.
    expect(n2.ready()).toBeNull()
    n2.advance(second)
    expect(n2.ready()!.committed).toEqual([normal(1, 3, 'new')])
    n2.checkInvariants()
  })

  it('a Promise made while a Ready is in flight leaves with the next Ready, which persists the ballot', () => {
    const n2 = createPaxos(config('n2', ['n1', 'n2', 'n3']))
    n2.step(accept(1, 0, [normal(1, 1)]))
    const first = n2.ready()!
    const prepare: Prepare = { type: 'prepare', from: 'n3', to: 'n2', term: 3, commitIndex: 0, fromSlot: 1 }
    n2.step(prepare)
    const second = n2.ready()!
    expect(after(first, 'promise')).toEqual([])
    expect(second.hardState).toMatchObject({ term: 3 })
    expect(after(second, 'promise')).toMatchObject([{ to: 'n3', term: 3 }])
    // The Promise reports slot 1, which the first Ready (earlier, so durable first) writes.
    expect((after(second, 'promise')[0] as PaxosPromise).accepted).toMatchObject([{ index: 1, term: 1 }])
  })

  it('does not hand out the same hard state twice while it is in flight', () => {
    const n2 = createPaxos(config('n2', ['n1', 'n2', 'n3']))
    n2.step(msg<Prepare>({ type: 'prepare', from: 'n3', to: 'n2', term: 3, commitIndex: 0, fromSlot: 1 }))
    const first = n2.ready()!
    expect(first.hardState).toMatchObject({ term: 3 })
    n2.step(msg<Accept>({ type: 'accept', from: 'n3', to: 'n2', term: 3, commitIndex: 0, entries: [normal(1, 3)] }))
    const second = n2.ready()!
    expect(slots(second.entries)).toEqual([1])
    expect(second.hardState).toBeNull()
    n2.advance(first)
    n2.advance(second)
  })
})
