import { Packr } from 'msgpackr'
import { assert, unreachable } from '@kv/consensus'
import type { ClientResponse, ControllerOp, ControllerWriteOp, GroupSpec, OpResult, ShardMap } from '@kv/protocol'
import type { GroupMessage, MachineContext } from '../group-message.js'
import { LogRecordError, type LogRecord } from '../log-record.js'
import { SessionTable, type EncodedSession, type SessionLimits } from '../session.js'
import { assertNextIndex, type MirroredStateMachine, type OpClass, type StateMachine, type TableChanges } from '../state-machine.js'
import { isShardMapQuery, type ShardMapReply } from './messages.js'

const packr = new Packr({ useRecords: false, moreTypes: false })
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The controller's tables in a state store. */
export const controllerTables = { maps: 'maps', sessions: 'sessions', meta: 'meta' } as const
const APPLIED_TERM = 'appliedTerm'

export interface ControllerMachineOptions extends SessionLimits {
  /**
   * The first map (epoch 1, the cluster spec's groups). The first leader logs it; from then
   * on the log, not the config file, says what epoch 1 is.
   */
  readonly initialMap: ShardMap
  readonly trackChanges?: boolean
  /** Most maps kept (each change adds one). */
  readonly maxEpochs?: number
}

interface SnapshotImage {
  readonly appliedIndex: number
  readonly appliedTerm: number
  readonly maps: readonly ShardMap[]
  readonly sessions: ReadonlyArray<readonly [string, ...EncodedSession<ChangeResult>]>
}

/** What a change's session remembers: its answer, refusals included (a retry is refused alike). */
type ChangeResult = OpResult | { readonly type: 'refused'; readonly reason: string }

/**
 * The controller group's state machine: the history of shard maps, one per epoch (none until
 * its first leader logs the initial map). A change
 * (add or remove a group) makes the next epoch's map; a committed map never changes, so any
 * replica holding epoch e may answer for it — groups learn new maps by asking any controller
 * replica for their next epoch (`ShardMapQuery`) and apply them in order.
 */
export class ControllerMachine implements StateMachine<ControllerOp>, MirroredStateMachine {
  readonly commandKind = 'controller'
  readonly tableNames = [controllerTables.maps, controllerTables.sessions, controllerTables.meta]
  private maps: ShardMap[] = []
  private readonly initialMap: ShardMap
  private readonly sessions: SessionTable<ChangeResult>
  private readonly trackChanges: boolean
  private readonly maxEpochs: number
  private dirtyEpochs = new Set<number>()
  private restored = false
  appliedIndex = 0
  appliedTerm = 0

  constructor(options: ControllerMachineOptions) {
    if (options.initialMap.epoch !== 1) throw new RangeError('the initial shard map has epoch 1')
    this.initialMap = options.initialMap
    this.trackChanges = options.trackChanges === true
    this.sessions = new SessionTable<ChangeResult>(options, this.trackChanges)
    this.maxEpochs = options.maxEpochs ?? 100_000
  }

  /** The newest map (null before the initial one is logged). */
  get current(): ShardMap | null {
    return this.maps[this.maps.length - 1] ?? null
  }

  /** The map at `epoch`, or null when there is none (yet). */
  mapAt(epoch: number): ShardMap | null {
    return this.maps[epoch - 1] ?? null
  }

  classify(op: ControllerOp): OpClass {
    return op.op === 'getMap' ? 'read' : 'write'
  }

  read(op: ControllerOp): ClientResponse {
    if (op.op !== 'getMap') return { type: 'error', code: 'BAD_REQUEST', message: `${op.op} is not a read` }
    return { type: 'result', result: { type: 'shardMap', map: op.epoch === undefined ? this.current : this.mapAt(op.epoch) } }
  }

  applyNoop(index: number, term: number): void {
    this.advanceTo(index, term)
  }

  apply(index: number, term: number, record: LogRecord): ClientResponse[] {
    this.advanceTo(index, term)
    switch (record.kind) {
      case 'controller':
        this.sessions.expire(record.timeMs)
        return record.commands.map((c) => this.applyChange(c, record.timeMs))
      case 'controller-init':
        // Only the first one counts: two leaders of a startup may both have logged it.
        if (this.maps.length === 0) this.push(record.map)
        return []
      case 'kv':
      case 'migration':
        throw new LogRecordError(`a ${record.kind} record in the controller's log at index ${index}`)
      default:
        return unreachable(record, 'controller record')
    }
  }

  private applyChange(c: { clientId: string; seq: number; ackedSeq: number; op: ControllerWriteOp }, timeMs: number): ClientResponse {
    // A change logged before the first map (a new leader logs it; a client's change can come
    // first in its log) is answered UNAVAILABLE, outside the session, so that the client's
    // retry of the same seq applies once the map is there.
    if (this.current === null) return { type: 'error', code: 'UNAVAILABLE', message: 'the controller has no shard map yet; retry' }
    // A refused change goes into the session too, so that a retry of it is refused alike.
    const answer = this.sessions.applyOnce(c, timeMs, (): ChangeResult => {
      const next = this.change(c.op)
      if (typeof next === 'string') return { type: 'refused', reason: next }
      if (next !== this.current) this.push(next)
      return { type: 'epoch', epoch: next.epoch }
    })
    if (answer.type === 'error') return answer
    const result = answer.result
    return result.type === 'refused' ? { type: 'error', code: 'BAD_REQUEST', message: result.reason } : { type: 'result', result }
  }

  /** The map a change makes, the current one for a no-op, or why it is refused. */
  private change(op: ControllerWriteOp): ShardMap | string {
    const map = this.current
    assert(map !== null, 'a change before the first map')
    switch (op.op) {
      case 'addGroup': {
        const existing = map.groups.find((g) => g.id === op.group.id)
        if (existing !== undefined) {
          return sameGroup(existing, op.group) ? map : `group ${op.group.id} is already in the map with other replicas (epoch ${map.epoch})`
        }
        const clash = clashingReplica(map.groups, op.group)
        if (clash !== null) return clash
        if (this.maps.length >= this.maxEpochs) return `the controller keeps at most ${this.maxEpochs} epochs`
        return { ...map, epoch: map.epoch + 1, groups: [...map.groups, op.group] }
      }
      case 'removeGroup': {
        if (!map.groups.some((g) => g.id === op.groupId)) return `group ${op.groupId} is not in the map (epoch ${map.epoch})`
        if (map.groups.length === 1) return `group ${op.groupId} is the last group; the keys would have nowhere to go`
        if (this.maps.length >= this.maxEpochs) return `the controller keeps at most ${this.maxEpochs} epochs`
        return { ...map, epoch: map.epoch + 1, groups: map.groups.filter((g) => g.id !== op.groupId) }
      }
      default:
        return unreachable(op, 'controller op')
    }
  }

  private push(map: ShardMap): void {
    this.maps.push(map)
    if (this.trackChanges) this.dirtyEpochs.add(map.epoch)
  }

  private advanceTo(index: number, term: number): void {
    assertNextIndex(this.appliedIndex, index)
    this.appliedIndex = index
    this.appliedTerm = term
  }

  statusInfo(): { epoch: number } {
    return { epoch: this.current?.epoch ?? 0 }
  }

  /** The first leader logs the initial map. */
  tick(ctx: MachineContext): void {
    // Once per term: a proposal of an earlier term may have been lost with it.
    // A proposal the core refused (a Raft leader handing over) is made again at the next tick.
    if (ctx.isLeader && this.maps.length === 0 && this.initProposedInTerm !== ctx.term) {
      if (ctx.propose({ kind: 'controller-init', v: 1, map: this.initialMap })) this.initProposedInTerm = ctx.term
    }
  }

  private initProposedInTerm = -1

  /** Any replica answers a group's query from what it has applied: committed maps never change. */
  onGroupMessage(msg: GroupMessage, ctx: MachineContext): void {
    if (!isShardMapQuery(msg)) return
    const reply: Omit<ShardMapReply, 'from' | 'fromGroup' | 'term'> = {
      type: 'ShardMapReply',
      to: msg.from,
      toGroup: msg.fromGroup,
      epoch: msg.epoch,
      map: this.mapAt(msg.epoch),
    }
    ctx.send(reply)
  }

  // ---- durable mirror ----

  drainChanges(): TableChanges {
    const rows: Array<{ table: string; key: string; value: Uint8Array | null }> = []
    for (const epoch of this.dirtyEpochs) rows.push({ table: controllerTables.maps, key: epochKey(epoch), value: packr.pack(this.mapAt(epoch)) })
    for (const id of this.sessions.drain()) rows.push({ table: controllerTables.sessions, key: id, value: this.sessions.encodeBytes(id) })
    rows.push({ table: controllerTables.meta, key: APPLIED_TERM, value: encoder.encode(String(this.appliedTerm)) })
    const changes = { restored: this.restored, rows }
    this.dirtyEpochs = new Set()
    this.restored = false
    return changes
  }

  *tableRows(table: string): IterableIterator<readonly [string, Uint8Array]> {
    switch (table) {
      case controllerTables.maps:
        for (const map of this.maps) yield [epochKey(map.epoch), packr.pack(map)]
        return
      case controllerTables.sessions:
        for (const id of this.sessions.ids()) yield [id, this.sessions.encodeBytes(id)!]
        return
      case controllerTables.meta:
        yield [APPLIED_TERM, encoder.encode(String(this.appliedTerm))]
        return
    }
  }

  loadRow(table: string, key: string, value: Uint8Array): void {
    if (table === controllerTables.maps) {
      // Rows come back in key order, and epoch keys sort numerically.
      const map = packr.unpack(value) as ShardMap
      this.maps[map.epoch - 1] = map
    } else if (table === controllerTables.sessions) this.sessions.loadBytes(key, value)
    else if (table === controllerTables.meta && key === APPLIED_TERM) this.appliedTerm = Number(decoder.decode(value))
  }

  loaded(appliedIndex: number): void {
    this.appliedIndex = appliedIndex
    if (this.maps.some((m, i) => m === undefined || m.epoch !== i + 1)) {
      throw new LogRecordError('the controller state store has a gap in its shard map epochs')
    }
  }

  // ---- snapshots ----

  snapshot(): Uint8Array {
    const image: SnapshotImage = { appliedIndex: this.appliedIndex, appliedTerm: this.appliedTerm, maps: this.maps, sessions: this.sessions.encodeAll() }
    return packr.pack(image)
  }

  restore(bytes: Uint8Array): void {
    const image = packr.unpack(bytes) as SnapshotImage
    this.maps = [...image.maps]
    this.sessions.replaceAll(image.sessions)
    this.appliedIndex = image.appliedIndex
    this.appliedTerm = image.appliedTerm
    if (this.trackChanges) {
      this.restored = true
      this.dirtyEpochs.clear()
    }
  }

  digest(): string {
    let h = 0x811c9dc5
    for (const b of packr.pack(this.maps)) h = Math.imul(h ^ b, 0x01000193) >>> 0
    return `e${this.current?.epoch ?? 0}-${h.toString(16).padStart(8, '0')}`
  }
}

/** Zero-padded so that the store's key order is epoch order. */
function epochKey(epoch: number): string {
  return String(epoch).padStart(12, '0')
}

function sameGroup(a: GroupSpec, b: GroupSpec): boolean {
  return a.protocol === b.protocol && JSON.stringify(a.replicas) === JSON.stringify(b.replicas)
}

function clashingReplica(groups: readonly GroupSpec[], added: GroupSpec): string | null {
  for (const g of groups) {
    for (const r of g.replicas) {
      for (const a of added.replicas) {
        if (r.id === a.id) return `replica id ${a.id} already belongs to group ${g.id}`
        if (r.host === a.host && r.port === a.port) return `address ${a.host}:${a.port} already belongs to group ${g.id}`
      }
    }
  }
  return null
}
