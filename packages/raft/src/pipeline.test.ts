/**
 * Several Readys in flight (see `Ready` in @kv/consensus): the core hands out the next Ready
 * while earlier writes are still being made durable, and counts nothing durable before the
 * Ready carrying it is advanced, in hand-out order.
 */
import { describe, expect, it } from 'vitest'
import { initialMembership, InvariantError, type CoreConfig, type Entry, type Ready } from '@kv/consensus'
import { createRaft } from './index.js'
import type { AppendEntries, InstallSnapshot, RaftMessage, RequestVote } from './messages.js'
import type { RaftNode } from './raft.js'
import { bytes } from './test-cluster.js'

function config(id: string, members: string[], extra: Partial<CoreConfig> = {}): CoreConfig {
  return {
    id, members, electionTimeoutTicks: 10, heartbeatTicks: 2, random: () => 0.5,
    maxEntriesPerMessage: 64, maxInflightMessages: 4, persisted: null, ...extra,
  }
}

const normal = (index: number, term: number, text = `e${index}`): Entry => ({ type: 'normal', index, term, data: bytes(text) })
const indexes = (entries: readonly Entry[]) => entries.map((e) => e.index)
const ofType = <T extends RaftMessage['type']>(r: Ready, type: T) => r.messagesAfterPersist.filter((m) => m.type === type)

/** A single-node group whose leader has handed out (not advanced) the Ready with its no-op. */
function soloLeader(extra: Partial<CoreConfig> = {}): { core: RaftNode; noop: Ready } {
  const core = createRaft(config('n1', ['n1'], extra)) as RaftNode
  while (core.status().role !== 'leader') core.tick()
  return { core, noop: core.ready()! }
}

/** A follower n2 of leader n1 (term 1), before any entry. */
function follower(extra: Partial<CoreConfig> = {}): RaftNode {
  return createRaft(config('n2', ['n1', 'n2', 'n3'], extra)) as RaftNode
}

function append(prevLogIndex: number, prevLogTerm: number, entries: Entry[], leaderCommit: number, term = 1): AppendEntries {
  return { type: 'AppendEntries', from: 'n1', to: 'n2', term, prevLogIndex, prevLogTerm, entries, leaderCommit }
}

describe('Readys in flight', () => {
  it('a leader hands out the next Ready while the previous write is in flight, and counts its own copy only at each advance', () => {
    const { core, noop } = soloLeader()
    core.propose(bytes('a'))
    const second = core.ready()!
    expect(indexes(second.entries)).toEqual([2])
    expect(second.committed).toEqual([]) // nothing is durable yet
    core.propose(bytes('b'))
    const third = core.ready()!
    expect(indexes(third.entries)).toEqual([3])
    expect(core.status().commitIndex).toBe(0)
    core.advance(noop)
    expect(core.status().commitIndex).toBe(1)
    core.advance(second)
    expect(core.status().commitIndex).toBe(2)
    // Committed and durable: handed out to apply while the third write is still in flight.
    const fourth = core.ready()!
    expect(indexes(fourth.committed)).toEqual([1, 2])
    expect(core.status().appliedIndex).toBe(2)
    core.advance(third)
    core.advance(fourth)
    expect(indexes(core.ready()!.committed)).toEqual([3])
  })

  it('refuses an advance out of hand-out order, and a Ready past maxReadysInFlight', () => {
    const { core, noop } = soloLeader({ maxReadysInFlight: 2 })
    core.propose(bytes('a'))
    const second = core.ready()!
    expect(() => core.advance(second)).toThrow(InvariantError)
    core.propose(bytes('b'))
    expect(() => core.ready()).toThrow(InvariantError)
    core.advance(noop)
    expect(core.ready()).not.toBeNull()
  })

  it('a follower acknowledges entries in the Ready that writes them, and applies them only once that Ready is advanced', () => {
    const n2 = follower()
    n2.step(append(0, 0, [normal(1, 1), normal(2, 1)], 0))
    const first = n2.ready()!
    n2.step(append(2, 1, [normal(3, 1), normal(4, 1)], 4))
    const second = n2.ready()!
    expect(indexes(first.entries)).toEqual([1, 2])
    expect(ofType(first, 'AppendEntriesResponse')).toMatchObject([{ matchIndex: 2 }])
    expect(indexes(second.entries)).toEqual([3, 4])
    expect(ofType(second, 'AppendEntriesResponse')).toMatchObject([{ matchIndex: 4 }])
    expect(second.committed).toEqual([]) // committed, not durable here yet
    n2.advance(first)
    const third = n2.ready()!
    expect(indexes(third.committed)).toEqual([1, 2])
    n2.advance(second)
    n2.advance(third)
    expect(indexes(n2.ready()!.committed)).toEqual([3, 4])
  })

  it('entries cut while their Ready is in flight do not count as durable when it is advanced', () => {
    const n2 = follower()
    n2.step(append(0, 0, [normal(1, 1), normal(2, 1), normal(3, 1)], 1))
    const first = n2.ready()!
    // A new leader of term 2 replaces index 2 and 3 before that write completed.
    n2.step(append(1, 1, [normal(2, 2, 'new')], 2, 2))
    const second = n2.ready()!
    expect(second.truncateFrom).toBe(2)
    expect(second.entries).toEqual([normal(2, 2, 'new')])
    n2.advance(first)
    expect(n2.log.durableTo).toBe(1)
    const third = n2.ready()!
    expect(indexes(third.committed)).toEqual([1]) // index 2 is committed, its new value not durable yet
    n2.advance(second)
    expect(n2.log.durableTo).toBe(2)
    n2.advance(third)
    expect(n2.ready()!.committed).toEqual([normal(2, 2, 'new')])
    n2.checkInvariants()
  })

  it('a vote granted while a Ready is in flight leaves with the next Ready, which persists it', () => {
    const n2 = follower({ options: { preVote: false, checkQuorum: false } })
    n2.step(append(0, 0, [normal(1, 1)], 0))
    const first = n2.ready()!
    const request: RequestVote = { type: 'RequestVote', from: 'n3', to: 'n2', term: 2, lastLogIndex: 1, lastLogTerm: 1, transfer: false }
    n2.step(request)
    const second = n2.ready()!
    expect(ofType(first, 'RequestVoteResponse')).toEqual([])
    expect(second.hardState).toMatchObject({ term: 2, vote: 'n3' })
    expect(ofType(second, 'RequestVoteResponse')).toMatchObject([{ to: 'n3', term: 2, granted: true }])
    // The ack of the first Ready speaks for term 1, which that Ready's write holds.
    expect(ofType(first, 'AppendEntriesResponse')).toMatchObject([{ term: 1 }])
  })

  it('a snapshot received while writes are in flight: nothing is handed out to apply until it is restored', () => {
    const n2 = follower()
    n2.step(append(0, 0, [normal(1, 1), normal(2, 1)], 1))
    const first = n2.ready()!
    const snapshot = { index: 10, term: 1, data: bytes('image') }
    const chunk: InstallSnapshot = {
      type: 'InstallSnapshot', from: 'n1', to: 'n2', term: 1, snapshotIndex: 10, snapshotTerm: 1, offset: 0, data: snapshot.data, done: true,
    }
    n2.step(chunk)
    const second = n2.ready()!
    // The leader's chunks carried no membership: the follower's own (the initial one) goes with it.
    expect(second.snapshot).toEqual({ ...snapshot, membership: initialMembership(['n1', 'n2', 'n3']) })
    expect(second.truncateFrom).toBe(2) // entries above the old commit belong to the old log
    n2.step(append(10, 1, [normal(11, 1)], 11))
    const third = n2.ready()!
    expect(indexes(third.entries)).toEqual([11])
    n2.advance(first)
    expect(n2.ready()).toBeNull() // index 1 is durable and committed, but the snapshot comes first
    n2.advance(second)
    expect(n2.status().appliedIndex).toBe(10) // restored (it covers index 1)
    expect(n2.ready()).toBeNull() // 11 is committed, not durable until the third Ready is advanced
    n2.advance(third)
    expect(indexes(n2.ready()!.committed)).toEqual([11])
    n2.checkInvariants()
  })
})
