import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseRaftMessage, type AppendEntries, type InstallSnapshot } from './messages.js'
import { Cluster, bytes } from './test-cluster.js'

const memberSet = new Set(['n1', 'n2', 'n3'])
const members = (from: string): boolean => memberSet.has(from)

const append: AppendEntries = {
  type: 'AppendEntries', from: 'n1', to: 'n2', term: 2, prevLogIndex: 1, prevLogTerm: 1, leaderCommit: 1,
  entries: [{ type: 'normal', index: 2, term: 2, data: bytes('a') }, { type: 'noop', index: 3, term: 2 }],
}

const chunk: InstallSnapshot = {
  type: 'InstallSnapshot', from: 'n1', to: 'n2', term: 1, snapshotIndex: 3, snapshotTerm: 1, offset: 4, data: bytes('abcd'), done: false,
}

describe('the message gateway', () => {
  it('accepts a well-formed message addressed to us', () => {
    expect(parseRaftMessage(append, 'n2', members)).toBe(append)
    expect(parseRaftMessage(chunk, 'n2', members)).toBe(chunk)
  })

  it.each([
    ['an unknown type', { ...append, type: 'Gossip' }],
    ['a non-member sender', { ...append, from: 'n9' }],
    ['another recipient', { ...append, to: 'n3' }],
    ['a message from ourselves', { ...append, from: 'n2' }],
    ['a negative term', { ...append, term: -1 }],
    ['a fractional index', { ...append, prevLogIndex: 1.5 }],
    ['a gap in entries', { ...append, entries: [{ type: 'noop', index: 3, term: 2 }] }],
    ['an entry newer than the term', { ...append, entries: [{ type: 'noop', index: 2, term: 3 }] }],
    ['decreasing entry terms', { ...append, prevLogTerm: 2, entries: [{ type: 'noop', index: 2, term: 1 }] }],
    ['entry data that is not bytes', { ...append, entries: [{ type: 'normal', index: 2, term: 2, data: 'a' }] }],
    ['a missing field', { ...append, leaderCommit: undefined }],
    ['a vote without the transfer flag', { type: 'RequestVote', from: 'n1', to: 'n2', term: 1, lastLogIndex: 0, lastLogTerm: 0 }],
    ['a snapshot chunk without data', { ...chunk, data: undefined }],
    ['a snapshot chunk of index 0', { ...chunk, snapshotIndex: 0 }],
    ['a snapshot chunk newer than the term', { ...chunk, snapshotTerm: 2 }],
    ['a snapshot chunk without done', { ...chunk, done: 'yes' }],
    ['a snapshot chunk past the largest snapshot', { ...chunk, offset: 2 * 1024 ** 3 }],
    ['a snapshot chunk over the payload ceiling', { ...chunk, data: new Uint8Array(8 * 1024 * 1024 + 1) }],
    ['a chunk acknowledgement without accepted', { type: 'InstallSnapshotResponse', from: 'n1', to: 'n2', term: 1, snapshotIndex: 3, offset: 0 }],
    ['null', null],
    ['a string', 'AppendEntries'],
  ])('drops %s', (_name, raw) => {
    expect(parseRaftMessage(raw, 'n2', members)).toBeNull()
  })

  it('step() never throws on arbitrary input and the node stays sound', () => {
    const c = new Cluster({ seed: 1 })
    c.electNode('n1')
    const field = fc.oneof(fc.anything(), fc.nat(5), fc.constantFrom('n1', 'n2', 'n3'))
    const shaped = fc.record({
      type: fc.constantFrom('PreVote', 'RequestVote', 'AppendEntries', 'AppendEntriesResponse', 'Heartbeat',
        'HeartbeatResponse', 'InstallSnapshot', 'InstallSnapshotResponse', 'TimeoutNow', 'PreVoteResponse', 'RequestVoteResponse'),
      from: fc.constantFrom('n1', 'n2', 'n3', 'x'), to: fc.constantFrom('n1', 'n2'), term: fc.nat(4),
      lastLogIndex: field, lastLogTerm: field, transfer: fc.boolean(), granted: fc.boolean(),
      prevLogIndex: field, prevLogTerm: field, leaderCommit: field, entries: fc.array(fc.anything(), { maxLength: 2 }),
      success: fc.boolean(), matchIndex: field, rejectedIndex: field, hintIndex: field, hintTerm: field,
      commit: field, readRound: field, snapshotIndex: field, snapshotTerm: field, offset: field,
      data: fc.oneof(fc.anything(), fc.uint8Array({ maxLength: 8 })), done: fc.boolean(), accepted: fc.boolean(),
    })
    fc.assert(
      fc.property(fc.oneof(fc.anything(), shaped), (raw) => {
        for (const id of ['n1', 'n2']) {
          expect(() => c.core(id).step(raw as never)).not.toThrow()
          c.processReady(id)
        }
      }),
      { numRuns: 2000, seed: 3 },
    )
  })
})
