import { createRng, type CoreConfig } from '@kv/consensus'
import { describe, expect, it } from 'vitest'
import { createPaxos, PaxosConfigError } from './index.js'

const rng = createRng(1)
const base: CoreConfig = {
  id: 'n1',
  members: ['n1', 'n2', 'n3'],
  electionTimeoutTicks: 10,
  heartbeatTicks: 2,
  random: () => rng.next(),
  maxEntriesPerMessage: 8,
  maxInflightMessages: 2,
  persisted: null,
}

describe('config checks', () => {
  it.each([
    ['heartbeat not below the election timeout', { heartbeatTicks: 10 }, /heartbeatTicks \(10\) must be below electionTimeoutTicks \(10\)/],
    ['a node outside the group', { id: 'n9' }, /n9 is not one of the members/],
    ['duplicate members', { members: ['n1', 'n1'] }, /unique/],
    ['no batch', { maxEntriesPerMessage: 0 }, /maxEntriesPerMessage/],
    ['no pipeline', { maxInflightMessages: 0 }, /maxInflightMessages/],
    ['bad skipSlots', { options: { skipSlots: [0] } }, /skipSlots/],
    ['bad preVote', { options: { preVote: 'yes' } }, /preVote/],
    ['a snapshot chunk above the payload ceiling', { maxSnapshotChunkBytes: 9 * 1024 * 1024 }, /maxSnapshotChunkBytes must be an integer in 1\.\.8388608/],
    ['an empty snapshot chunk', { maxSnapshotChunkBytes: 0 }, /maxSnapshotChunkBytes/],
    ['a message byte bound above the ceiling', { maxBytesPerMessage: 16 * 1024 * 1024 }, /maxBytesPerMessage must be/],
    ['a Ready that cannot hold one message', { maxBytesPerMessage: 1024, maxPersistBytesPerReady: 1000 }, /maxPersistBytesPerReady \(at least maxBytesPerMessage\) must be an integer in 1024\./],
    ['no committed bytes per Ready', { maxApplyBytesPerReady: 0 }, /maxApplyBytesPerReady/],
  ])('refuses %s', (_, change, message) => {
    expect(() => createPaxos({ ...base, ...change })).toThrow(PaxosConfigError)
    expect(() => createPaxos({ ...base, ...change })).toThrow(message)
  })

  it('accepts a sound config', () => {
    expect(createPaxos({ ...base, options: { skipSlots: [3, 5] } }).status().role).toBe('follower')
  })
})
