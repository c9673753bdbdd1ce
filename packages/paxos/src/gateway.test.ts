import { createRng, type PeerMessage } from '@kv/consensus'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createPaxos } from './index.js'
import { bytes } from './test-cluster.js'

function follower() {
  const rng = createRng(3)
  return createPaxos({
    id: 'n2',
    members: ['n1', 'n2', 'n3'],
    electionTimeoutTicks: 10,
    heartbeatTicks: 2,
    random: () => rng.next(),
    maxEntriesPerMessage: 4,
    maxInflightMessages: 2,
    persisted: null,
  })
}

const valid: PeerMessage[] = [
  { type: 'prepare', from: 'n1', to: 'n2', term: 65, commitIndex: 0, fromSlot: 1 } as PeerMessage,
  { type: 'accept', from: 'n1', to: 'n2', term: 65, commitIndex: 0, entries: [{ type: 'normal', index: 1, term: 65, data: bytes('x') }] } as PeerMessage,
  { type: 'heartbeat', from: 'n1', to: 'n2', term: 65, commitIndex: 0, readRound: 0 } as PeerMessage,
  { type: 'install-snapshot', from: 'n1', to: 'n2', term: 65, snapshotIndex: 3, snapshotTerm: 1, offset: 0, data: bytes('abc'), done: false } as PeerMessage,
]

describe('the message gateway', () => {
  it.each([
    ['a sender not in the roster, at a ballot a member owns', { type: 'prepare', from: 'n9', to: 'n2', term: 1, commitIndex: 0, fromSlot: 1 }],
    ['a reject from a sender not in the roster', { type: 'reject', from: 'n9', to: 'n2', term: 70 }],
    ['a ballot its sender does not own', { type: 'prepare', from: 'n1', to: 'n2', term: 2, commitIndex: 0, fromSlot: 1 }],
    ['another recipient', { type: 'prepare', from: 'n1', to: 'n3', term: 65, commitIndex: 0, fromSlot: 1 }],
    ['an unknown type', { type: 'vote', from: 'n1', to: 'n2', term: 65 }],
    ['a negative watermark', { type: 'commit', from: 'n1', to: 'n2', term: 65, commitIndex: -1 }],
    ['an Accept at another ballot', { type: 'accept', from: 'n1', to: 'n2', term: 65, commitIndex: 0, entries: [{ type: 'noop', index: 1, term: 1 }] }],
    ['a batch over the limit', { type: 'accept', from: 'n1', to: 'n2', term: 65, commitIndex: 0, entries: [1, 2, 3, 4, 5].map((index) => ({ type: 'noop', index, term: 65 })) }],
    ['entries out of order', { type: 'learn', from: 'n1', to: 'n2', term: 65, commitIndex: 2, entries: [{ type: 'noop', index: 2, term: 65 }, { type: 'noop', index: 1, term: 65 }] }],
    ['data that is not bytes', { type: 'accept', from: 'n1', to: 'n2', term: 65, commitIndex: 0, entries: [{ type: 'normal', index: 1, term: 65, data: 'x' }] }],
    ['a Prepare asking from a slot at or below its watermark', { type: 'prepare', from: 'n1', to: 'n2', term: 65, commitIndex: 3, fromSlot: 3 }],
    ['a snapshot chunk without done', { type: 'install-snapshot', from: 'n1', to: 'n2', term: 65, snapshotIndex: 3, snapshotTerm: 1, offset: 0, data: bytes('x') }],
    ['a snapshot chunk over the payload ceiling', { type: 'install-snapshot', from: 'n1', to: 'n2', term: 65, snapshotIndex: 3, snapshotTerm: 1, offset: 0, data: new Uint8Array(8 * 1024 * 1024 + 1), done: true }],
    ['a snapshot chunk past the largest snapshot', { type: 'install-snapshot', from: 'n1', to: 'n2', term: 65, snapshotIndex: 3, snapshotTerm: 1, offset: 2 * 1024 ** 3, data: bytes('x'), done: false }],
  ])('ignores %s', (_, raw) => {
    const core = follower()
    core.step(raw)
    expect(core.ready()).toBeNull()
    expect(core.status().term).toBe(0)
  })

  it('hears a leader whose ballot lies past its roster: a replica admitted after what it has learned', () => {
    const core = follower()
    core.step({ type: 'heartbeat', from: 'n7', to: 'n2', term: 7, commitIndex: 0, readRound: 0 } as PeerMessage)
    expect(core.status()).toMatchObject({ term: 7, leader: 'n7' })
  })

  it('ignores a known replica at a ballot position past the roster (it owns another)', () => {
    const core = follower()
    core.step({ type: 'heartbeat', from: 'n1', to: 'n2', term: 7, commitIndex: 0, readRound: 0 } as PeerMessage)
    expect(core.status().term).toBe(0)
  })

  it('never throws on arbitrary input or on mangled valid messages', () => {
    const mangled = fc.tuple(fc.constantFrom(...valid), fc.string(), fc.anything()).map(([m, key, value]) => ({ ...m, [key]: value }))
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.anything(), mangled), { maxLength: 20 }), (inputs) => {
        const core = follower()
        for (const input of inputs) {
          core.step(input as PeerMessage)
          core.checkInvariants()
        }
        const ready = core.ready()
        if (ready !== null) core.advance(ready)
      }),
      { numRuns: 300 },
    )
  })
})
