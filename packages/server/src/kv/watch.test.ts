/**
 * Watches and range reads in the KV machine: the events each write leaves in the change history
 * and their revisions, compaction and COMPACTED, held polls, prefix watches of a group that left
 * the map, scans in key order with paging, and a key's watch resumed at the group it moved to.
 */
import { compareRevisions, type ClientResponse, type GroupSpec, type KvOp, type ShardMap, type WatchOp, type WireRevision, type WriteOp } from '@kv/protocol'
import { describe, expect, it } from 'vitest'
import type { GroupMessage, MachineContext, OutgoingGroupMessage } from '../group-message.js'
import type { Command, LogRecord, MigrationStep } from '../log-record.js'
import type { ReadHold } from '../state-machine.js'
import { KvStateMachine, type KvMachineOptions } from './kv-machine.js'

const b = (s: string) => new TextEncoder().encode(s)
const str = (v: Uint8Array | undefined) => (v === undefined ? undefined : new TextDecoder().decode(v))
const group = (id: string): GroupSpec => ({ id, protocol: 'raft', replicas: [{ id: `${id}-r1`, host: 'h', port: id.length }] })
const map = (epoch: number, ...ids: string[]): ShardMap => ({ epoch, vnodesPerGroup: 16, groups: ids.map(group) })

function machine(options: Partial<KvMachineOptions> = {}) {
  return new KvStateMachine({ sessionTtlMs: 60_000, maxResultsPerSession: 100, ...options })
}
function sharded(groupId: string, options: Partial<KvMachineOptions> = {}) {
  return machine({ ...options, sharding: { kind: 'controller', groupId, controller: group('ctl') } })
}

let seq = 0
const cmd = (op: WriteOp): Command => ({ clientId: 'c', seq: ++seq, ackedSeq: 0, op })
function write(sm: KvStateMachine, ...ops: WriteOp[]): ClientResponse[] {
  return sm.apply(sm.appliedIndex + 1, 1, { kind: 'kv', v: 1, timeMs: 0, commands: ops.map(cmd) })
}
function step(sm: KvStateMachine, s: MigrationStep): void {
  sm.apply(sm.appliedIndex + 1, 1, { kind: 'migration', v: 1, step: s })
}
const put = (key: string, value: string): WriteOp => ({ op: 'put', key, value: b(value) })

type Answer = ClientResponse | ReadHold<KvOp>
const watchOp = (target: { key: string } | { prefix: string }, fromRevision: WireRevision | null, extra: Partial<WatchOp> = {}): WatchOp => ({
  op: 'watch', ...target, fromRevision, maxEvents: 100, waitMs: 1000, ...extra,
})
function events(a: Answer) {
  if (a.type !== 'result' || a.result.type !== 'events') throw new Error(`not events: ${JSON.stringify(a)}`)
  return a.result
}
const described = (a: Answer) => events(a).events.map((e) => `${e.type} ${e.key}${e.value === undefined ? '' : `=${str(e.value)}`} @${e.revision.join('.')}`)

describe('watch history in the KV machine', () => {
  it('gives each write an event at its entry\'s revision, in log order; an append carries the appended bytes', () => {
    const sm = machine()
    write(sm, put('a', '1'), { op: 'append', key: 'a', value: b('2') }) // one entry, one revision
    write(sm, { op: 'delete', key: 'a' }, { op: 'delete', key: 'missing' })
    write(sm, { op: 'batchPut', entries: [['b', b('B')], ['a', b('A')]] })
    expect(described(sm.read(watchOp({ key: 'a' }, [0, 0])))).toEqual(['put a=1 @0.1', 'append a=2 @0.1', 'delete a @0.2', 'put a=A @0.3'])
    expect(described(sm.read(watchOp({ prefix: '' }, [0, 1])))).toEqual(['delete a @0.2', 'put b=B @0.3', 'put a=A @0.3'])
    // A retried write is answered from the session: no second event.
    sm.apply(sm.appliedIndex + 1, 1, { kind: 'kv', v: 1, timeMs: 0, commands: [{ clientId: 'c', seq, ackedSeq: 0, op: put('z', 'z') }] })
    expect(sm.read(watchOp({ prefix: '' }, [0, 3]))).toMatchObject({ type: 'hold' })
  })

  it('answers a watch from now with the current revision, and get withRevision the revision it read at', () => {
    const sm = machine()
    write(sm, put('a', '1'))
    sm.applyNoop(2, 1)
    expect(events(sm.read(watchOp({ key: 'a' }, null)))).toMatchObject({ events: [], progress: [0, 2], more: false })
    expect(sm.read({ op: 'get', key: 'a', withRevision: true })).toMatchObject({ result: { type: 'value', revision: [0, 2] } })
  })

  it('holds a poll with nothing new, and asks again only after what it already looked at', () => {
    const sm = machine()
    write(sm, put('a', '1'))
    write(sm, put('other', 'x'))
    const held = sm.read(watchOp({ key: 'a' }, [0, 1]))
    expect(held).toMatchObject({ type: 'hold', waitMs: 1000, retry: { op: 'watch', fromRevision: [0, 2] } })
    write(sm, put('a', '2'))
    expect(described(sm.read((held as ReadHold<KvOp>).retry))).toEqual(['put a=2 @0.3'])
    // At the deadline the shell asks for a final answer: empty, with the group's revision.
    expect(events(sm.read(watchOp({ key: 'a' }, [0, 3]), true))).toEqual({ type: 'events', events: [], progress: [0, 3], more: false })
  })

  it('stops at maxEvents on a log entry boundary and says where it stopped', () => {
    const sm = machine()
    for (let i = 0; i < 5; i++) write(sm, put(`k${i}`, 'v'), put(`k${i}`, 'w'))
    const first = events(sm.read(watchOp({ prefix: 'k' }, [0, 0], { maxEvents: 3 })))
    expect(first.events.map((e) => e.revision[1])).toEqual([1, 1, 2, 2]) // whole entries
    expect(first).toMatchObject({ more: true, progress: [0, 2] })
    const rest = events(sm.read(watchOp({ prefix: 'k' }, first.progress, { maxEvents: 100 })))
    expect(rest.events).toHaveLength(6)
    expect(rest).toMatchObject({ more: false, progress: [0, 5] })
  })

  it('compacts by count and by bytes, whole entries, the same on every replica; an older revision gets COMPACTED', () => {
    const a = machine({ maxHistoryEvents: 4 })
    const c = machine({ maxHistoryEvents: 4 })
    for (let i = 1; i <= 6; i++) for (const sm of [a, c]) write(sm, put('k', `${i}`))
    expect(a.history.horizon).toEqual([0, 2])
    expect(a.history.image()).toEqual(c.history.image())
    expect(a.read(watchOp({ key: 'k' }, [0, 1]))).toMatchObject({ type: 'error', code: 'COMPACTED', oldest: [0, 2] })
    expect(described(a.read(watchOp({ key: 'k' }, [0, 2])))).toEqual(['put k=3 @0.3', 'put k=4 @0.4', 'put k=5 @0.5', 'put k=6 @0.6'])
    const bytes = machine({ maxHistoryBytes: 200 })
    for (let i = 1; i <= 4; i++) write(bytes, put('k', 'x'.repeat(60)))
    expect(bytes.history.size).toBe(2)
    expect(bytes.history.byteSize).toBeLessThanOrEqual(200)
  })

  it('keeps the history through a snapshot and through the state store\'s rows', () => {
    const sm = machine({ maxHistoryEvents: 3, trackChanges: true })
    for (let i = 1; i <= 5; i++) write(sm, put(`k${i % 2}`, `${i}`))
    const copy = machine()
    copy.restore(sm.snapshot())
    expect(copy.history.image()).toEqual(sm.history.image())
    // The rows drained after each apply, loaded back (as at start-up) into a fresh machine.
    const table = new Map<string, Uint8Array>()
    const mirror = machine({ maxHistoryEvents: 3, trackChanges: true })
    for (let i = 1; i <= 5; i++) {
      write(mirror, put(`k${i % 2}`, `${i}`))
      for (const row of mirror.drainChanges().rows) {
        if (row.table !== 'history') continue
        if (row.value === null) table.delete(row.key)
        else table.set(row.key, row.value)
      }
    }
    const loaded = machine()
    for (const [k, v] of [...table].sort(([x], [y]) => (x < y ? -1 : 1))) loaded.loadRow('history', k, v)
    loaded.loaded(5)
    expect(loaded.history.image()).toEqual(mirror.history.image())
    expect(described(loaded.read(watchOp({ prefix: 'k' }, [0, 3])))).toEqual(['put k0=4 @0.4', 'put k1=5 @0.5'])
  })

  it('opens a data folder or snapshot of a release before watches with its history starting where it is', () => {
    const sm = machine()
    sm.loadRow('kv', 'a', b('1'))
    sm.loaded(40)
    expect(sm.history.horizon).toEqual([0, 40])
    expect(sm.read(watchOp({ key: 'a' }, [0, 0]))).toMatchObject({ code: 'COMPACTED', oldest: [0, 40] })
    expect(sm.read(watchOp({ key: 'a' }, [0, 40]))).toMatchObject({ type: 'hold' })
  })
})

describe('range reads in the KV machine', () => {
  const scan = (sm: KvStateMachine, start: string, end: string | null, limit: number, reverse = false, epoch = 0) =>
    sm.read({ op: 'scan', start, end, limit, reverse, epoch })
  const keysOf = (a: Answer) => (a.type === 'result' && a.result.type === 'scan' ? { keys: a.result.entries.map(([k]) => k), more: a.result.more } : a)

  it('answers keys in [start, end) in key order, either way, paged by limit', () => {
    const sm = machine()
    write(sm, ...['d', 'a', 'c', 'b', 'e', 'ab'].map((k) => put(k, k)))
    write(sm, { op: 'delete', key: 'c' })
    expect(keysOf(scan(sm, '', null, 10))).toEqual({ keys: ['a', 'ab', 'b', 'd', 'e'], more: false })
    expect(keysOf(scan(sm, 'ab', 'e', 2))).toEqual({ keys: ['ab', 'b'], more: true })
    expect(keysOf(scan(sm, 'b\u0000', 'e', 2))).toEqual({ keys: ['d'], more: false })
    expect(keysOf(scan(sm, 'a', 'e', 2, true))).toEqual({ keys: ['d', 'b'], more: true })
    expect(keysOf(scan(sm, '', null, 10, true))).toEqual({ keys: ['e', 'd', 'b', 'ab', 'a'], more: false })
  })

  it('keeps its key order through a snapshot', () => {
    const sm = machine()
    write(sm, ...['z', 'x', 'y'].map((k) => put(k, k)))
    const copy = machine()
    copy.restore(sm.snapshot())
    expect(keysOf(scan(copy, '', null, 10))).toEqual({ keys: ['x', 'y', 'z'], more: false })
  })

  it('answers WRONG_SHARD at another epoch than the client routes by, or while gained arcs wait for their data', () => {
    const g2 = sharded('g2')
    step(g2, { type: 'config', map: map(1, 'g1') })
    step(g2, { type: 'config', map: map(2, 'g1', 'g2') })
    expect(scan(g2, '', null, 10, false, 1)).toMatchObject({ code: 'WRONG_SHARD', epoch: 2 })
    expect(scan(g2, '', null, 10, false, 2)).toMatchObject({ code: 'WRONG_SHARD' }) // waiting for g1's keys
  })
})

describe('watches across a move', () => {
  /** g1 serves everything at epoch 1, takes writes, then loses arcs to g2 at epoch 2; g2 installs them. */
  function moved() {
    const g1 = sharded('g1')
    const g2 = sharded('g2')
    for (const sm of [g1, g2]) step(sm, { type: 'config', map: map(1, 'g1') })
    const keys = Array.from({ length: 40 }, (_, i) => `key${i}`)
    for (const k of keys) write(g1, put(k, `${k}.1`))
    for (const k of keys.slice(0, 10)) write(g1, put(k, `${k}.2`))
    for (const sm of [g1, g2]) step(sm, { type: 'config', map: map(2, 'g1', 'g2') })
    const arcs = g2.shards!.incoming[0]!.arcs
    const gained = keys.filter((k) => !g1.serves(k))
    expect(gained.length).toBeGreaterThan(3)
    step(g2, { type: 'send-keys-request', epoch: 2, from: 'g1' })
    const live = gained.filter((k) => k !== gained[0])
    // The key gained[0] is deleted at g1 before the move (a write that g1 applied before the freeze
    // cannot be: so the test deletes it by hand in the data g1 sends).
    step(g2, {
      type: 'install', epoch: 2, from: 'g1', cursor: 0, next: live.length, done: true,
      entries: live.map((k) => [k, g1.get(k)!] as const),
      sessions: [],
      floors: [
        ...live.map((k) => [k, ...g1.history.floorOf(k)] as const),
        ...g1.history.absentFloors(arcs, (k) => live.includes(k), 0, 256).keys.map(([k, r]) => [k, ...r] as const),
      ],
      bucketFloors: g1.history.absentFloors(arcs, (k) => live.includes(k), 0, 256).buckets.map(([b, r]) => [b, ...r] as const),
    })
    step(g2, { type: 'shard-ready', epoch: 2, from: 'g1' })
    return { g1, g2, gained, live }
  }
  const lastRevisionAt = (sm: KvStateMachine, key: string): WireRevision => {
    const all = events(sm.read(watchOp({ key }, [0, 0]))).events
    return all[all.length - 1]!.revision
  }

  it('resumes at the gainer from the last revision seen at the loser, with no gap: the loser\'s events stay below [epoch, 0]', () => {
    const { g1, g2, live } = moved()
    const key = live.find((k) => g1.history.floorOf(k)[1] > 0)!
    const last = lastRevisionAt(g1, key)
    expect(compareRevisions(last, [2, 0])).toBeLessThan(0)
    // The loser hands out what it has, then says the key is elsewhere. While it drains, the
    // progress it gives is the key's last event: below the move's epoch, meaningful at the gainer.
    const drained = events(g1.read(watchOp({ key }, [0, 0])))
    expect(drained.progress).toEqual(last)
    expect(g1.read(watchOp({ key }, last))).toMatchObject({ type: 'error', code: 'WRONG_SHARD' })
    // No gap: nothing yet, at once (the asked revision is of an older epoch), then held from there.
    const now = events(g2.read(watchOp({ key }, last)))
    expect(now).toMatchObject({ events: [], progress: [2, g2.appliedIndex] })
    expect(g2.read(watchOp({ key }, now.progress))).toMatchObject({ type: 'hold' })
    write(g2, put(key, 'new'))
    const [event] = events(g2.read(watchOp({ key }, last))).events
    expect(event).toMatchObject({ type: 'put', key })
    expect(compareRevisions(event!.revision, [2, 0])).toBeGreaterThan(0)
  })

  it('refuses a resume from before the key\'s last event at the loser with COMPACTED and the revision to resume from', () => {
    const { g1, g2, live, gained } = moved()
    const key = live.find((k) => compareRevisions(g1.history.floorOf(k), [0, 20]) > 0)!
    const floor = g1.history.floorOf(key)
    expect(g2.read(watchOp({ key }, [floor[0], floor[1] - 1]))).toMatchObject({ type: 'error', code: 'COMPACTED', oldest: floor })
    // A key the loser did not hold (deleted before the move) is bounded by the move's absent floor.
    // A key deleted before the move (gone at the loser) keeps its own floor: its last event there.
    const deleted = lastRevisionAt(g1, gained[0]!)
    expect(g2.read(watchOp({ key: gained[0]! }, [0, 0]))).toMatchObject({ code: 'COMPACTED', oldest: deleted })
    expect(g2.read(watchOp({ key: gained[0]! }, deleted))).toMatchObject({ type: 'result', result: { events: [] } })
    // A key of the arcs that never had an event is bounded by its bucket's floor (the loser's horizon, here 0.0).
    const never = Array.from({ length: 200 }, (_, i) => `never-${i}`).find((k) => g2.serves(k) && !g1.serves(k))!
    expect(g2.read(watchOp({ key: never }, [0, 0]))).toMatchObject({ type: 'result' })
  })

  it('ends a prefix watch of a group that left the map once it has nothing more', () => {
    const g1 = sharded('g1')
    step(g1, { type: 'config', map: map(1, 'g1', 'g2') })
    const served = Array.from({ length: 30 }, (_, i) => `p${i}`).filter((k) => g1.serves(k))
    write(g1, put(served[0]!, 'x'))
    step(g1, { type: 'config', map: map(2, 'g2') })
    expect(described(g1.read(watchOp({ prefix: 'p' }, [1, 0])))).toEqual([`put ${served[0]}=x @1.2`])
    expect(events(g1.read(watchOp({ prefix: 'p' }, [1, 2])))).toMatchObject({ events: [], ended: true, progress: [2, 3] })
  })

  it('answers a held poll at once when the group moves to a new epoch', () => {
    const g1 = sharded('g1')
    step(g1, { type: 'config', map: map(1, 'g1') })
    const held = g1.read(watchOp({ prefix: '' }, [1, 1]))
    expect(held).toMatchObject({ type: 'hold' })
    step(g1, { type: 'config', map: map(2, 'g1', 'g2') })
    expect(events(g1.read((held as ReadHold<KvOp>).retry))).toMatchObject({ events: [], progress: [2, 2] })
  })

  it('carries each moved key\'s floor through the real migration driver: a watch from the key\'s last revision at the loser resumes at the gainer', () => {
    const g1 = sharded('g1')
    const g2 = sharded('g2')
    for (const sm of [g1, g2]) step(sm, { type: 'config', map: map(1, 'g1') })
    const keys = Array.from({ length: 30 }, (_, i) => `m/${i}`)
    for (const k of keys) write(g1, { op: 'append', key: k, value: b('x') })
    for (const sm of [g1, g2]) step(sm, { type: 'config', map: map(2, 'g1', 'g2') })
    // Before its data is in, the gainer sends a watch of a moving key back (WRONG_SHARD: the
    // client asks again), never COMPACTED: the loser's word on the key's past is still to come.
    const moving = keys.find((k) => !g1.serves(k))!
    expect(g2.read(watchOp({ key: moving }, [1, 0]))).toMatchObject({ code: 'WRONG_SHARD' })
    const machines = new Map([['g1', g1], ['g2', g2]])
    const proposed = new Map<KvStateMachine, LogRecord[]>([[g1, []], [g2, []]])
    const inbox: GroupMessage[] = []
    const ctx = (group: string): MachineContext => ({
      replicaId: `${group}-r1`, groupId: group, isLeader: true, term: 1, nowMs: 0,
      send: (m: OutgoingGroupMessage) => void inbox.push({ ...m, from: `${group}-r1`, fromGroup: group, term: 0 }),
      propose: (r: LogRecord) => {
        proposed.get(machines.get(group)!)!.push(r)
        return true
      },
    })
    // Bounded: the move takes a few dozen rounds of ticks, messages and applies.
    for (let round = 0; round < 200 && !(g1.shards!.settled && g2.shards!.settled); round++) {
      for (const [id, sm] of machines) sm.tick(ctx(id))
      for (const m of inbox.splice(0)) machines.get(m.toGroup)?.onGroupMessage(m, ctx(m.toGroup))
      for (const [sm, records] of proposed) for (const r of records.splice(0)) sm.apply(sm.appliedIndex + 1, 1, r)
    }
    expect([g1.shards!.settled, g2.shards!.settled]).toEqual([true, true])
    const moved = keys.filter((k) => g2.serves(k))
    expect(moved.length).toBeGreaterThan(0)
    for (const k of moved) {
      const last = lastRevisionAt(g1, k)
      expect(g2.read(watchOp({ key: k }, last)), k).toMatchObject({ type: 'result' })
      expect(g2.read(watchOp({ key: k }, [last[0], last[1] - 1])), k).toMatchObject({ code: 'COMPACTED', oldest: last })
    }
  })
})
