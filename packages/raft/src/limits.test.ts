import { describe, expect, it } from 'vitest'
import type { CoreConfig } from '@kv/consensus'
import { createRaft, RaftConfigError } from './index.js'
import { checkConfig } from './limits.js'

const base: CoreConfig = {
  id: 'n1', members: ['n1', 'n2', 'n3'], electionTimeoutTicks: 10, heartbeatTicks: 2, random: () => 0.5,
  maxEntriesPerMessage: 64, maxInflightMessages: 4, persisted: null,
}

describe('configuration limits', () => {
  it('defaults preVote and checkQuorum to true', () => {
    expect(checkConfig(base)).toEqual({ preVote: true, checkQuorum: true })
    expect(checkConfig({ ...base, options: { preVote: false } })).toEqual({ preVote: false, checkQuorum: true })
  })

  it.each([
    ['heartbeat not below the election timeout', { heartbeatTicks: 10 }, /heartbeatTicks \(10\) must be below/],
    ['a member list without this node', { members: ['n2', 'n3'] }, /must include this node/],
    ['duplicate members', { members: ['n1', 'n1'] }, /unique/],
    ['no entries per message', { maxEntriesPerMessage: 0 }, /maxEntriesPerMessage/],
    ['too many messages in flight', { maxInflightMessages: 1_000_000 }, /maxInflightMessages/],
    ['a fractional timeout', { electionTimeoutTicks: 2.5 }, /electionTimeoutTicks/],
    ['an option of the wrong type', { options: { preVote: 'yes' } }, /options.preVote must be a boolean/],
  ])('refuses %s', (_name, change, message) => {
    const config: CoreConfig = { ...base, ...change }
    expect(() => createRaft(config)).toThrow(RaftConfigError)
    expect(() => createRaft(config)).toThrow(message)
  })
})
