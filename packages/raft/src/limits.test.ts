import { describe, expect, it } from 'vitest'
import type { CoreConfig } from '@kv/consensus'
import { createRaft, RaftConfigError } from './index.js'
import { checkConfig, limits } from './limits.js'

const base: CoreConfig = {
  id: 'n1', members: ['n1', 'n2', 'n3'], electionTimeoutTicks: 10, heartbeatTicks: 2, random: () => 0.5,
  maxEntriesPerMessage: 64, maxInflightMessages: 4, persisted: null,
}

describe('configuration limits', () => {
  it('defaults preVote and checkQuorum to true', () => {
    expect(checkConfig(base)).toMatchObject({ preVote: true, checkQuorum: true })
    expect(checkConfig({ ...base, options: { preVote: false } })).toMatchObject({ preVote: false, checkQuorum: true })
  })

  it('defaults the byte bounds to the named limits', () => {
    expect(checkConfig(base)).toMatchObject({
      maxBytesPerMessage: limits.defaultBytesPerMessage,
      maxSnapshotChunkBytes: limits.defaultSnapshotChunkBytes,
      maxPersistBytesPerReady: limits.defaultPersistBytesPerReady,
      maxApplyBytesPerReady: limits.defaultApplyBytesPerReady,
    })
    expect(limits.defaultSnapshotChunkBytes).toBeLessThanOrEqual(limits.maxMessagePayloadBytes)
    expect(limits.defaultBytesPerMessage).toBeLessThanOrEqual(limits.maxMessagePayloadBytes)
  })

  it('takes a member list without this node: a replica joining a group learns its membership from the leader', () => {
    const core = createRaft({ ...base, members: ['n2', 'n3'] })
    expect(core.status().membership.voters).toEqual(['n2', 'n3'])
    for (let i = 0; i < 100; i++) core.tick()
    expect(core.status().role).toBe('follower') // no voter: it never campaigns
  })

  it.each([
    ['heartbeat not below the election timeout', { heartbeatTicks: 10 }, /heartbeatTicks \(10\) must be below/],
    ['duplicate members', { members: ['n1', 'n1'] }, /unique/],
    ['no entries per message', { maxEntriesPerMessage: 0 }, /maxEntriesPerMessage/],
    ['too many messages in flight', { maxInflightMessages: 1_000_000 }, /maxInflightMessages/],
    ['a fractional timeout', { electionTimeoutTicks: 2.5 }, /electionTimeoutTicks/],
    ['an option of the wrong type', { options: { preVote: 'yes' } }, /options.preVote must be a boolean/],
    ['a snapshot chunk larger than a message may carry', { maxSnapshotChunkBytes: 9 * 1024 * 1024 }, /maxSnapshotChunkBytes must be an integer in 1\.\.8388608/],
    ['an empty snapshot chunk', { maxSnapshotChunkBytes: 0 }, /maxSnapshotChunkBytes/],
    ['a message byte bound above the ceiling', { maxBytesPerMessage: 64 * 1024 * 1024 }, /maxBytesPerMessage must be/],
    ['a Ready that cannot hold one message', { maxBytesPerMessage: 1024, maxPersistBytesPerReady: 1000 }, /maxPersistBytesPerReady \(1000\) must be an integer ≥ maxBytesPerMessage \(1024\)/],
    ['no committed bytes per Ready', { maxApplyBytesPerReady: 0 }, /maxApplyBytesPerReady/],
  ])('refuses %s', (_name, change, message) => {
    const config: CoreConfig = { ...base, ...change }
    expect(() => createRaft(config)).toThrow(RaftConfigError)
    expect(() => createRaft(config)).toThrow(message)
  })
})
