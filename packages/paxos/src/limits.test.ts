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
  it('takes a node outside the initial members: a replica joining learns its group from the leader, and never campaigns', () => {
    const core = createPaxos({ ...base, id: 'n9' })
    for (let i = 0; i < 100; i++) core.tick()
    expect(core.status()).toMatchObject({ role: 'follower', membership: { voters: ['n1', 'n2', 'n3'] } })
  })

  it.each([
    ['heartbeat not below the election timeout', { heartbeatTicks: 10 }, /heartbeatTicks \(10\) must be below electionTimeoutTicks \(10\)/],
    ['an empty id', { id: '' }, /id must be a non-empty string/],
    ['duplicate members', { members: ['n1', 'n1'] }, /unique/],
    ['no batch', { maxEntriesPerMessage: 0 }, /maxEntriesPerMessage/],
    ['no pipeline', { maxInflightMessages: 0 }, /maxInflightMessages/],
    ['bad skipSlots', { options: { skipSlots: [0] } }, /skipSlots/],
    ['bad preVote', { options: { preVote: 'yes' } }, /preVote/],
    ['an alpha of 0', { options: { alpha: 0 } }, /options.alpha/],
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
