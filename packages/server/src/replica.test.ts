/**
 * The `Replica` shell itself, over a scripted consensus core: the test decides what the core
 * commits, when a read barrier is confirmed and when a persist completes, so each duty of the
 * shell (answer on apply, read barriers, group commit, session answers, leadership loss) is
 * checked at the exact point where a broken shell would answer too early or wrongly.
 */
import { initialMembership, type ConsensusCore, type CoreConfig, type Entry, type NotLeader, type PeerMessage, type ProposeResult, type Ready, type ReadState, type Snapshot, type Status } from '@kv/consensus'
import type { ClientResponse, KvOp, MembersResponse, ReplicaStatus } from '@kv/protocol'
import { describe, expect, it } from 'vitest'
import type { ReplicaEnv } from './env.js'
import type { MachineContext } from './group-message.js'
import { KvStateMachine } from './kv/kv-machine.js'
import { decodeRecord, type Command } from './log-record.js'
import type { ReplicaLimits } from './limits.js'
import { Replica, type SessionRequest } from './replica.js'

const b = (s: string) => new TextEncoder().encode(s)

/** A leader core whose commits and read confirmations the test hands out. */
class ScriptedCore implements ConsensusCore {
  role: Status['role'] = 'leader'
  term = 1
  readonly log: Entry[] = []
  readonly readRequests: number[] = []
  private committedUpTo = 0
  private handedOut = 0
  private persistedUpTo = 0
  private pendingReadStates: ReadState[] = []
  /** A leader that takes no proposals (Raft, while it hands leadership over). */
  handingOver = false
  /** The leader a follower knows of. */
  knownLeader: string | null = null

  constructor(private readonly config: CoreConfig) {}

  tick(): void {}
  step(): void {}
  propose(data: Uint8Array): ProposeResult {
    if (this.role !== 'leader' || this.handingOver) return { type: 'not-leader', leader: null }
    const index = this.log.length + 1
    this.log.push({ type: 'normal', index, term: this.term, data })
    return { index, term: this.term }
  }
  readIndex(ctx: number): NotLeader | null {
    if (this.role !== 'leader') return { type: 'not-leader', leader: null }
    this.readRequests.push(ctx)
    return null
  }
  /** The test: entries up to `index` are committed (the quorum acknowledged them). */
  commit(index: number): void {
    this.committedUpTo = index
  }
  /** The test: the barrier of `ctx` was confirmed at `index` (or refused, with null). */
  confirmRead(ctx: number, index: number | null): void {
    this.pendingReadStates.push({ ctx, index })
  }
  /** Readys handed out and not advanced yet, with the last entry index each carries. */
  readonly inFlight: Ready[] = []
  private handedOutTo = 0
  ready(): Ready | null {
    const entries = this.log.slice(this.handedOutTo)
    // The contract: only entries durable here (their Ready advanced) are handed out to apply.
    const commitTo = Math.min(this.committedUpTo, this.persistedUpTo)
    const committed = this.log.slice(this.handedOut, commitTo)
    if (entries.length === 0 && committed.length === 0 && this.pendingReadStates.length === 0) return null
    const readStates = this.pendingReadStates
    this.pendingReadStates = []
    this.handedOutTo = this.log.length
    this.handedOut = Math.max(this.handedOut, committed.at(-1)?.index ?? 0)
    const ready: Ready = { hardState: null, snapshot: null, truncateFrom: null, entries, messagesNow: [], messagesAfterPersist: [], committed, readStates }
    this.inFlight.push(ready)
    return ready
  }
  advance(ready: Ready): void {
    expect(this.inFlight.shift()).toBe(ready) // in hand-out order
    this.persistedUpTo = Math.max(this.persistedUpTo, ready.entries.at(-1)?.index ?? 0)
  }
  status(): Status {
    return {
      id: this.config.id, role: this.role, term: this.term, leader: this.role === 'leader' ? this.config.id : this.knownLeader,
      commitIndex: this.committedUpTo, lastIndex: this.log.length, appliedIndex: this.handedOut, firstIndex: 1,
      membership: initialMembership(this.config.members),
    }
  }
  proposeMembership(): NotLeader {
    return { type: 'not-leader', leader: null }
  }
  compact(_snapshot: Snapshot): void {}
  transferLeadership(): void {}
  checkInvariants(): void {}
}

/** A KV machine that keeps the context the shell hands its `tick`. */
class ContextKeepingMachine extends KvStateMachine {
  ctx: MachineContext | null = null
  override tick(ctx: MachineContext): void {
    this.ctx = ctx
    super.tick(ctx)
  }
}

/** A replica over a scripted core and an env whose persists complete when the test says. */
function harness(limits: Partial<ReplicaLimits> = {}) {
  let core: ScriptedCore | null = null
  const persists: Array<{ ready: Ready; done: () => void }> = []
  const clock = { nowMs: 1000 }
  const sent: PeerMessage[] = []
  const env: ReplicaEnv<KvStateMachine> = {
    now: () => clock.nowMs,
    send: (m) => sent.push(m),
    persist: (ready, done) => persists.push({ ready, done }),
    saveSnapshot: (_s, done) => done(),
  }
  const replica = new Replica({
    groupId: 'g1',
    coreFactory: (config) => (core = new ScriptedCore(config)),
    coreConfig: { id: 'r1', members: ['r1', 'r2', 'r3'], electionTimeoutTicks: 10, heartbeatTicks: 2, random: () => 0.5, maxEntriesPerMessage: 64, maxInflightMessages: 4, persisted: null },
    env,
    stateMachine: new ContextKeepingMachine({ sessionTtlMs: 60_000, maxResultsPerSession: 100 }),
    limits,
  })
  const answers: Array<{ label: string; response: ClientResponse | ReplicaStatus | MembersResponse }> = []
  const send = (label: string, req: SessionRequest<KvOp>) => replica.request(req, (response) => answers.push({ label, response }))
  /** Completes every persist handed out so far (each one's Ready loop may hand out more). */
  const persistAll = () => {
    while (persists.length > 0) persists.shift()!.done()
  }
  /** Commits and applies everything proposed, and confirms every read barrier asked for so far. */
  const settle = () => {
    replica.flush()
    core!.commit(core!.log.length)
    for (const ctx of core!.readRequests.splice(0)) core!.confirmRead(ctx, core!.log.length)
    replica.flush()
    persistAll()
    replica.flush()
    persistAll()
  }
  return { replica, core: core!, persists, sent, answers, send, persistAll, settle, clock, answered: (label: string) => answers.filter((a) => a.label === label), machine: replica.stateMachine as ContextKeepingMachine }
}

const put = (clientId: string, seq: number, key: string, value: string): SessionRequest<KvOp> => ({ clientId, seq, ackedSeq: 0, op: { op: 'put', key, value: b(value) } })
const append = (clientId: string, seq: number, key: string, value: string): SessionRequest<KvOp> => ({ clientId, seq, ackedSeq: 0, op: { op: 'append', key, value: b(value) } })
const get = (key: string): SessionRequest<KvOp> => ({ clientId: 'reader', seq: 0, ackedSeq: 0, op: { op: 'get', key } })
const watch = (key: string, fromRevision: [number, number], waitMs = 500): SessionRequest<KvOp> => ({
  clientId: 'watcher', seq: 0, ackedSeq: 0, op: { op: 'watch', key, fromRevision, maxEvents: 10, waitMs },
})
const eventsOf = (r: ClientResponse | ReplicaStatus | MembersResponse | undefined) =>
  r !== undefined && r.type === 'result' && r.result.type === 'events' ? r.result.events.map((e) => `${e.type} ${e.key} @${e.revision.join('.')}`) : r
const valueOf = (r: ClientResponse | ReplicaStatus | MembersResponse | undefined) =>
  r !== undefined && r.type === 'result' && r.result.type === 'value' && r.result.value !== null ? new TextDecoder().decode(r.result.value) : r

function commandsOf(entry: Entry): readonly Command[] {
  if (entry.type !== 'normal') return []
  const record = decodeRecord(entry.data)
  return 'commands' in record ? (record.commands as readonly Command[]) : []
}

describe('Replica', () => {
  it('hands a group message on to its leader, once, when it does not lead (a member the sender\'s shard map does not list may lead)', () => {
    const h = harness()
    h.core.role = 'follower'
    h.core.knownLeader = 'r4'
    const msg = { type: 'KeysLearned', from: 'g2-r1', to: 'r1', term: 0, fromGroup: 'g2', toGroup: 'g1', epoch: 3 }
    h.replica.step(msg)
    expect(h.sent).toEqual([{ ...msg, to: 'r4', via: 'r1' }])
    // Handed on already: not again (two followers with stale leaders would bounce it).
    h.replica.step({ ...msg, via: 'r2' } as typeof msg)
    // For another group, or at the leader itself: not handed on.
    const forG3 = { ...msg, toGroup: 'g3' }
    h.replica.step(forG3)
    h.core.role = 'leader'
    h.replica.step(msg)
    expect(h.sent).toHaveLength(1)
  })

  it('answers a write once its entry is applied: not when proposed, nor when persisted', () => {
    const h = harness()
    h.send('w', put('c', 1, 'k', 'v'))
    h.replica.flush()
    expect(h.core.log).toHaveLength(1)
    h.persistAll()
    expect(h.answered('w')).toEqual([]) // durable here, not committed by a quorum
    h.core.commit(1)
    h.replica.flush()
    h.persistAll()
    expect(h.answered('w').map((a) => a.response)).toEqual([{ type: 'result', result: { type: 'ok' } }])
  })

  it('holds a linearizable get until its barrier is confirmed and the state applied up to it', () => {
    const h = harness()
    h.send('w1', put('c', 1, 'k', 'old'))
    h.replica.flush()
    h.core.commit(1)
    h.replica.flush()
    h.persistAll()
    h.send('w2', put('c', 2, 'k', 'new'))
    h.replica.flush()
    h.persistAll() // index 2 proposed and durable here, not committed
    h.send('r', get('k'))
    h.replica.flush()
    expect(h.core.readRequests).toHaveLength(1)
    expect(h.answered('r')).toEqual([]) // no answer from local state before the barrier
    // The barrier: some other replica may have committed index 2 already.
    h.core.confirmRead(h.core.readRequests[0]!, 2)
    h.replica.flush()
    h.persistAll()
    expect(h.answered('r')).toEqual([]) // confirmed at 2, applied only 1
    h.core.commit(2)
    h.replica.flush()
    h.persistAll()
    expect(h.answered('r').map((a) => valueOf(a.response))).toEqual(['new'])
  })

  it('answers NOT_LEADER for a read whose barrier is refused', () => {
    const h = harness()
    h.send('r', get('k'))
    h.replica.flush()
    h.core.confirmRead(h.core.readRequests[0]!, null)
    h.replica.flush()
    h.persistAll()
    expect(h.answered('r').map((a) => a.response.type === 'error' && a.response.code)).toEqual(['NOT_LEADER'])
  })

  it('gathers the writes that arrive while a Ready is being persisted into one entry (group commit)', () => {
    const h = harness()
    h.send('a', put('c1', 1, 'a', '1'))
    h.replica.flush()
    expect(h.core.log).toHaveLength(1)
    h.send('b', put('c2', 1, 'b', '2'))
    h.send('c', put('c3', 1, 'c', '3'))
    h.replica.flush()
    h.replica.flush()
    expect(h.core.log).toHaveLength(1) // the first Ready's sync is still in flight
    h.persistAll()
    expect(h.core.log).toHaveLength(2)
    expect(commandsOf(h.core.log[1]!).map((c) => c.clientId)).toEqual(['c2', 'c3'])
    h.core.commit(2)
    h.replica.flush()
    h.persistAll()
    expect(h.answers.map((a) => a.label).sort()).toEqual(['a', 'b', 'c'])
  })

  it('hands out the next Ready while an earlier write is in flight, and answers what it commits at once', () => {
    const h = harness()
    h.send('w1', put('c', 1, 'k1', 'v1'))
    h.replica.flush()
    h.persistAll() // index 1 is durable here
    h.send('w2', put('c', 2, 'k2', 'v2'))
    h.replica.flush()
    expect(h.core.log).toHaveLength(2)
    expect(h.persists).toHaveLength(1) // index 2 is being written
    h.core.commit(1)
    h.replica.flush()
    // The Ready carrying index 1 to apply went out behind the one writing index 2, and the
    // answer did not wait for that write.
    expect(h.core.inFlight).toHaveLength(2)
    expect(h.answered('w1').map((a) => a.response)).toEqual([{ type: 'result', result: { type: 'ok' } }])
    expect(h.answered('w2')).toEqual([])
  })

  it('finishes Readys in the order it handed them out, though their writes complete out of order', () => {
    const h = harness()
    h.send('w', put('c', 1, 'k', 'v'))
    h.replica.flush()
    h.send('r', get('k'))
    h.replica.flush()
    h.core.confirmRead(h.core.readRequests[0]!, 0)
    h.replica.flush()
    expect(h.core.inFlight).toHaveLength(2)
    const [first, second] = h.persists.splice(0)
    second!.done() // the later write completes first: nothing may be advanced yet
    expect(h.core.inFlight).toHaveLength(2)
    first!.done()
    expect(h.core.inFlight).toHaveLength(0) // both advanced, in order (the core checks)
  })

  it('answers a write retried while in the log from one apply, and one retried after it from the session', () => {
    const h = harness()
    h.send('first', append('c', 1, 'k', 'x'))
    h.send('retry-in-flight', append('c', 1, 'k', 'x'))
    h.replica.flush()
    expect(h.core.log.flatMap(commandsOf)).toHaveLength(1) // the retry joined the waiting one
    h.core.commit(1)
    h.replica.flush()
    h.persistAll()
    expect(h.answered('first')).toHaveLength(1)
    expect(h.answered('retry-in-flight')).toHaveLength(1)
    // Retried again after it was applied (its answer was lost): logged again, applied once.
    h.send('retry-late', append('c', 1, 'k', 'x'))
    h.replica.flush()
    h.core.commit(h.core.log.length)
    h.replica.flush()
    h.persistAll()
    expect(h.answered('retry-late').map((a) => a.response)).toEqual([{ type: 'result', result: { type: 'ok' } }])
    h.send('r', get('k'))
    h.replica.flush()
    h.core.confirmRead(h.core.readRequests.at(-1)!, h.core.log.length)
    h.replica.flush()
    h.persistAll()
    expect(h.answered('r').map((a) => valueOf(a.response))).toEqual(['x']) // not 'xx'
  })

  it('answers NOT_LEADER to every waiting write and unconfirmed read when it stops leading', () => {
    const h = harness()
    h.send('w', put('c', 1, 'k', 'v'))
    h.replica.flush()
    h.send('r', get('k'))
    h.replica.flush()
    h.core.role = 'follower'
    h.core.term = 2
    h.persistAll()
    h.replica.flush()
    const codes = h.answers.map((a) => [a.label, a.response.type === 'error' ? a.response.code : a.response.type])
    expect(codes.sort()).toEqual([['r', 'NOT_LEADER'], ['w', 'NOT_LEADER']])
    // A request to a follower is refused at once, with the leader hint.
    h.send('late', put('c', 2, 'k', 'v2'))
    expect(h.answered('late').map((a) => a.response.type === 'error' && a.response.code)).toEqual(['NOT_LEADER'])
  })

  describe('held reads (watch polls)', () => {
    it('holds a poll with nothing new and answers it on the apply that brings its key an event', () => {
      const h = harness()
      h.send('w1', put('c', 1, 'k', 'v1'))
      h.settle()
      h.send('watch', watch('k', [0, 1]))
      h.settle()
      expect(h.answered('watch')).toEqual([])
      h.send('other', put('c', 2, 'other', 'x'))
      h.settle()
      expect(h.answered('watch')).toEqual([]) // an apply without an event of k
      h.send('w2', put('c', 3, 'k', 'v2'))
      h.settle()
      expect(h.answered('watch').map((a) => eventsOf(a.response))).toEqual([['put k @0.3']])
    })

    it('answers a held poll at its deadline, by the env clock on a tick, empty with the group\'s revision', () => {
      const h = harness()
      h.send('watch', watch('k', [0, 0], 500))
      h.settle()
      h.clock.nowMs += 499
      h.replica.tick()
      expect(h.answered('watch')).toEqual([])
      h.clock.nowMs += 1
      h.replica.tick()
      expect(h.answered('watch').map((a) => a.response)).toEqual([{ type: 'result', result: { type: 'events', events: [], progress: [0, 0], more: false } }])
    })

    it('answers a held poll NOT_LEADER when the replica stops leading', () => {
      const h = harness()
      h.send('watch', watch('k', [0, 0]))
      h.settle()
      h.core.role = 'follower'
      h.core.term = 2
      h.replica.flush()
      expect(h.answered('watch').map((a) => a.response.type === 'error' && a.response.code)).toEqual(['NOT_LEADER'])
    })

    it('holds at most maxHeldReads polls; the next gets UNAVAILABLE', () => {
      const h = harness({ maxHeldReads: 2 })
      for (const label of ['a', 'b', 'c']) h.send(label, watch('k', [0, 0]))
      h.settle()
      expect(h.answers.map((a) => [a.label, a.response.type === 'error' && a.response.code])).toEqual([['c', 'UNAVAILABLE']])
    })
  })

  it('tells a machine whether the core took its proposal: a leader handing over takes none', () => {
    const h = harness()
    h.replica.tick()
    const ctx = h.machine.ctx!
    const record = { kind: 'migration', v: 1, step: { type: 'keys-learned', epoch: 2, to: 'g2' } } as const
    h.core.handingOver = true
    expect(ctx.isLeader).toBe(true)
    expect(ctx.propose(record)).toBe(false)
    expect(h.core.log).toHaveLength(0)
    h.core.handingOver = false
    expect(ctx.propose(record)).toBe(true)
    expect(h.core.log).toHaveLength(1)
    h.core.role = 'follower'
    expect(ctx.propose(record)).toBe(false)
  })
})
