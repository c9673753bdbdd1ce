import { groupSpecSchema, type GroupSpec } from './cluster-spec.js'
import { limits } from './limits.js'

/**
 * The shard map: which groups share the key space, at which epoch. The controller group
 * owns it; every change makes a new map with the next epoch, and a committed map never
 * changes. The ring (`@kv/hashring`) places keys on `groups` with `vnodesPerGroup` points each.
 */
export interface ShardMap {
  readonly epoch: number
  readonly vnodesPerGroup: number
  readonly groups: readonly GroupSpec[]
}

/** Operations on the controller group. */
export type ControllerOp =
  /** Add a group to the map. The same group again (same replicas) is a no-op; another with that id is refused. */
  | { readonly op: 'addGroup'; readonly group: GroupSpec }
  | { readonly op: 'removeGroup'; readonly groupId: string }
  /** Read: the map at `epoch`, or the newest one. */
  | { readonly op: 'getMap'; readonly epoch?: number }

export type ControllerWriteOp = Exclude<ControllerOp, { op: 'getMap' }>

/** A request to the controller group, under the client's session like any write. */
export interface ControllerRequest {
  readonly type: 'controller'
  readonly clientId: string
  readonly seq: number
  readonly ackedSeq: number
  readonly op: ControllerOp
}

function isEpoch(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 1
}

/** The full gateway check of a controller operation (a client sent it). */
export function checkControllerOp(op: unknown): string | null {
  if (typeof op !== 'object' || op === null) return 'op must be an object'
  const o = op as { op?: unknown; group?: unknown; groupId?: unknown; epoch?: unknown }
  switch (o.op) {
    case 'addGroup': {
      const r = groupSpecSchema.safeParse(o.group)
      if (r.success) return null
      return `addGroup: ${r.error.issues.map((i) => `group.${i.path.join('.')}: ${i.message}`).join('; ')}`
    }
    case 'removeGroup':
      return typeof o.groupId === 'string' && o.groupId.length > 0 && o.groupId.length <= 64 ? null : 'removeGroup: groupId must be a group id'
    case 'getMap':
      return o.epoch === undefined || isEpoch(o.epoch) ? null : 'getMap: epoch must be an integer ≥ 1'
    default:
      return `unknown controller operation ${JSON.stringify(o.op)}`
  }
}

/** Validates a decoded controller request (the controller group's gateway). */
export function parseControllerRequest(msg: unknown): { ok: true; request: ControllerRequest } | { ok: false; reason: string } {
  if (typeof msg !== 'object' || msg === null) return { ok: false, reason: 'request must be an object' }
  const m = msg as { type?: unknown; clientId?: unknown; seq?: unknown; ackedSeq?: unknown; op?: unknown }
  if (m.type !== 'controller') return { ok: false, reason: `this replica is a controller: unknown request type ${JSON.stringify(m.type)}` }
  if (typeof m.clientId !== 'string' || m.clientId.length === 0 || m.clientId.length > limits.maxClientIdChars) {
    return { ok: false, reason: 'clientId must be a non-empty string' }
  }
  const seqOk = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
  if (!seqOk(m.seq) || !seqOk(m.ackedSeq)) return { ok: false, reason: 'seq and ackedSeq must be non-negative integers' }
  const problem = checkControllerOp(m.op)
  if (problem !== null) return { ok: false, reason: problem }
  const op = m.op as ControllerOp
  const seq = m.seq as number, ackedSeq = m.ackedSeq as number
  if (op.op !== 'getMap' && seq === 0) return { ok: false, reason: 'a write needs seq ≥ 1' }
  if (op.op !== 'getMap' && ackedSeq >= seq) return { ok: false, reason: 'ackedSeq must be below seq' }
  return { ok: true, request: { type: 'controller', clientId: m.clientId, seq, ackedSeq, op } }
}

/** The shape of a controller write read back from the log. */
export function checkControllerWriteShape(op: unknown): string | null {
  if (typeof op === 'object' && op !== null && (op as { op?: unknown }).op === 'getMap') return 'getMap is not a write'
  return checkControllerOp(op)
}

/** The shape of a shard map received from another replica (a gateway for group messages). */
export function checkShardMap(x: unknown): x is ShardMap {
  if (typeof x !== 'object' || x === null) return false
  const m = x as { epoch?: unknown; vnodesPerGroup?: unknown; groups?: unknown }
  return (
    isEpoch(m.epoch) &&
    typeof m.vnodesPerGroup === 'number' &&
    Number.isInteger(m.vnodesPerGroup) &&
    m.vnodesPerGroup >= 1 &&
    Array.isArray(m.groups) &&
    m.groups.length >= 1 &&
    m.groups.every((g) => groupSpecSchema.safeParse(g).success)
  )
}
