import type { ClientResponse, ControllerWriteOp, GroupSpec, ShardMap } from '@kv/protocol'
import { describe, expect, it } from 'vitest'
import type { MachineContext, OutgoingGroupMessage } from '../group-message.js'
import type { ShardMapQuery } from './messages.js'
import { ControllerMachine } from './controller-machine.js'

const group = (id: string, port: number): GroupSpec => ({
  id,
  protocol: 'raft',
  replicas: [1, 2, 3].map((r) => ({ id: `${id}-r${r}`, host: '127.0.0.1', port: port + r })),
})
const initialMap: ShardMap = { epoch: 1, vnodesPerGroup: 128, groups: [group('g1', 7000)] }
function machine(): ControllerMachine {
  const m = new ControllerMachine({ initialMap, sessionTtlMs: 60_000, maxResultsPerSession: 16, trackChanges: true })
  m.apply(1, 1, { kind: 'controller-init', v: 1, map: initialMap })
  return m
}

let seq = 0
function change(m: ControllerMachine, op: ControllerWriteOp, clientSeq = ++seq, clientId = 'admin'): ClientResponse {
  const [answer] = m.apply(m.appliedIndex + 1, 1, { kind: 'controller', v: 1, timeMs: 0, commands: [{ clientId, seq: clientSeq, ackedSeq: 0, op }] })
  return answer!
}

describe('ControllerMachine', () => {
  it('makes a new map with the next epoch for each change, and keeps every older map', () => {
    const m = machine()
    expect(change(m, { op: 'addGroup', group: group('g2', 7100) })).toEqual({ type: 'result', result: { type: 'epoch', epoch: 2 } })
    expect(change(m, { op: 'addGroup', group: group('g3', 7200) })).toMatchObject({ result: { epoch: 3 } })
    expect(change(m, { op: 'removeGroup', groupId: 'g1' })).toMatchObject({ result: { epoch: 4 } })
    expect(m.current?.groups.map((g) => g.id)).toEqual(['g2', 'g3'])
    expect(m.mapAt(2)?.groups.map((g) => g.id)).toEqual(['g1', 'g2'])
    expect(m.mapAt(5)).toBeNull()
    expect(m.read({ op: 'getMap', epoch: 3 })).toMatchObject({ result: { type: 'shardMap', map: { epoch: 3 } } })
    expect(m.read({ op: 'getMap' })).toMatchObject({ result: { map: { epoch: 4 } } })
  })

  it('adding a group that is already in the map with the same replicas is a no-op; with other replicas it is refused', () => {
    const m = machine()
    change(m, { op: 'addGroup', group: group('g2', 7100) })
    expect(change(m, { op: 'addGroup', group: group('g2', 7100) })).toMatchObject({ result: { type: 'epoch', epoch: 2 } })
    expect(change(m, { op: 'addGroup', group: group('g2', 7300) })).toMatchObject({ type: 'error', code: 'BAD_REQUEST', message: /already in the map with other replicas/ })
    expect(m.current?.epoch).toBe(2)
  })

  it('refuses a group whose replica ids or addresses another group has, an unknown group, and removing the last one', () => {
    const m = machine()
    expect(change(m, { op: 'addGroup', group: { ...group('g2', 7100), replicas: [{ id: 'g1-r1', host: 'h', port: 1 }] } })).toMatchObject({ message: /replica id g1-r1 already belongs to group g1/ })
    expect(change(m, { op: 'addGroup', group: { ...group('g2', 7100), replicas: [{ id: 'x', host: '127.0.0.1', port: 7001 }] } })).toMatchObject({ message: /address 127\.0\.0\.1:7001 already belongs/ })
    expect(change(m, { op: 'removeGroup', groupId: 'g9' })).toMatchObject({ message: /not in the map/ })
    expect(change(m, { op: 'removeGroup', groupId: 'g1' })).toMatchObject({ message: /last group/ })
    expect(m.current?.epoch).toBe(1)
  })

  it('answers a change logged before the first map UNAVAILABLE, outside the session: its retry applies once the map is there', () => {
    const m = new ControllerMachine({ initialMap, sessionTtlMs: 60_000, maxResultsPerSession: 16, trackChanges: true })
    expect(change(m, { op: 'addGroup', group: group('g2', 7100) }, 1, 'early')).toMatchObject({ type: 'error', code: 'UNAVAILABLE' })
    m.apply(m.appliedIndex + 1, 1, { kind: 'controller-init', v: 1, map: initialMap })
    expect(change(m, { op: 'addGroup', group: group('g2', 7100) }, 1, 'early')).toEqual({ type: 'result', result: { type: 'epoch', epoch: 2 } })
  })

  it('answers a retried change from the session, refusals included, even after the state moved on', () => {
    const m = machine()
    expect(change(m, { op: 'removeGroup', groupId: 'g2' }, 1, 'c')).toMatchObject({ type: 'error' })
    change(m, { op: 'addGroup', group: group('g2', 7100) }, 2, 'c')
    // The same seq again: refused as the first time, though removing g2 would now succeed.
    expect(change(m, { op: 'removeGroup', groupId: 'g2' }, 1, 'c')).toMatchObject({ type: 'error', message: /not in the map/ })
    expect(change(m, { op: 'addGroup', group: group('g2', 7100) }, 2, 'c')).toMatchObject({ result: { epoch: 2 } })
    expect(m.current?.epoch).toBe(2)
  })

  it('restores from its snapshot and from its mirrored rows to the same maps', () => {
    const m = machine()
    change(m, { op: 'addGroup', group: group('g2', 7100) })
    change(m, { op: 'addGroup', group: group('g3', 7200) })
    const copy = machine()
    copy.restore(m.snapshot())
    expect(copy.digest()).toBe(m.digest())
    expect(copy.appliedIndex).toBe(m.appliedIndex)

    const mirrored = machine()
    for (const table of m.tableNames) for (const [k, v] of m.tableRows(table)) mirrored.loadRow(table, k, v)
    mirrored.loaded(m.appliedIndex)
    expect(mirrored.digest()).toBe(m.digest())
    expect(m.drainChanges().rows.filter((r) => r.table === 'maps').map((r) => r.key)).toEqual(['000000000001', '000000000002', '000000000003'])
  })

  it('has no map until its first leader logs the initial one, and applies only the first init', () => {
    const m = new ControllerMachine({ initialMap, sessionTtlMs: 60_000, maxResultsPerSession: 16 })
    expect(m.read({ op: 'getMap' })).toMatchObject({ result: { map: null } })
    expect(change(m, { op: 'addGroup', group: group('g2', 7100) })).toMatchObject({ type: 'error', message: /no shard map yet/ })
    const proposed: unknown[] = []
    const ctx = (isLeader: boolean): MachineContext => ({ replicaId: 'ctl-r1', groupId: 'ctl', isLeader, term: 1, nowMs: 0, send: () => undefined, propose: (r) => proposed.push(r) > 0 })
    m.tick(ctx(false))
    m.tick(ctx(true))
    m.tick(ctx(true))
    expect(proposed).toEqual([{ kind: 'controller-init', v: 1, map: initialMap }])
    m.apply(m.appliedIndex + 1, 2, { kind: 'controller-init', v: 1, map: initialMap })
    m.apply(m.appliedIndex + 1, 2, { kind: 'controller-init', v: 1, map: { ...initialMap, vnodesPerGroup: 7 } })
    expect(m.current).toEqual(initialMap)
  })

  it('logs the initial map again at the next tick when the core refused it (a Raft leader handing over)', () => {
    const m = new ControllerMachine({ initialMap, sessionTtlMs: 60_000, maxResultsPerSession: 16 })
    const proposed: unknown[] = []
    let takes = false
    const ctx: MachineContext = { replicaId: 'ctl-r1', groupId: 'ctl', isLeader: true, term: 4, nowMs: 0, send: () => undefined, propose: (r) => proposed.push(r) > 0 && takes }
    m.tick(ctx)
    takes = true
    m.tick(ctx)
    m.tick(ctx)
    expect(proposed).toHaveLength(2)
  })

  it('answers a group asking for its next epoch with that map, or null when it has none yet', () => {
    const m = machine()
    change(m, { op: 'addGroup', group: group('g2', 7100) })
    const sent: OutgoingGroupMessage[] = []
    const ctx: MachineContext = { replicaId: 'ctl-r2', groupId: 'ctl', isLeader: false, term: 1, nowMs: 0, send: (msg) => sent.push(msg), propose: () => false }
    const ask = (epoch: number): ShardMapQuery => ({ type: 'ShardMapQuery', from: 'g1-r1', to: 'ctl-r2', term: 0, fromGroup: 'g1', toGroup: 'ctl', epoch })
    m.onGroupMessage(ask(2), ctx)
    m.onGroupMessage(ask(3), ctx)
    const malformed = { ...ask(1), epoch: -4 }
    m.onGroupMessage(malformed, ctx) // ignored
    expect(sent).toMatchObject([
      { type: 'ShardMapReply', to: 'g1-r1', toGroup: 'g1', epoch: 2, map: { epoch: 2 } },
      { type: 'ShardMapReply', epoch: 3, map: null },
    ])
  })
})
