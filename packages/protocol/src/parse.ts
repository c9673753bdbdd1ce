import { limits } from './limits.js'
import { isWireRevision } from './revision.js'
import type { AnyClientRequest, KvOp } from './types.js'

/** The gateway for everything a client sends: a typed rejection, never a throw past here. */
export type ParseResult = { readonly ok: true; readonly request: AnyClientRequest } | { readonly ok: false; readonly reason: string }

const encoder = new TextEncoder()

function isBytes(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array
}

function checkKey(key: unknown, where: string): string | null {
  if (typeof key !== 'string') return `${where}: key must be a string`
  if (key.length === 0) return `${where}: key must not be empty`
  if (key.length > limits.maxKeyBytes || encoder.encode(key).length > limits.maxKeyBytes) {
    return `${where}: key is longer than ${limits.maxKeyBytes} bytes`
  }
  return null
}

function checkValue(value: unknown, where: string): string | null {
  if (!isBytes(value)) return `${where}: value must be bytes`
  if (value.length > limits.maxValueBytes) return `${where}: value is larger than ${limits.maxValueBytes} bytes`
  return null
}

function checkBatch(entries: unknown): string | null {
  if (!Array.isArray(entries)) return 'batchPut: entries must be an array'
  if (entries.length === 0) return 'batchPut: entries must not be empty'
  if (entries.length > limits.maxBatchEntries) return `batchPut: more than ${limits.maxBatchEntries} entries`
  let bytes = 0
  for (const pair of entries) {
    if (!Array.isArray(pair) || pair.length !== 2) return 'batchPut: each entry must be [key, value]'
    const problem = checkKey(pair[0], 'batchPut') ?? checkValue(pair[1], 'batchPut')
    if (problem !== null) return problem
    bytes += (pair[0] as string).length + (pair[1] as Uint8Array).length
  }
  if (bytes > limits.maxBatchBytes) return `batchPut: larger than ${limits.maxBatchBytes} bytes in all`
  return null
}

function checkBound(x: unknown, where: string, nullable: boolean): string | null {
  if (x === null && nullable) return null
  if (typeof x !== 'string') return `${where} must be a string${nullable ? ' or null' : ''}`
  if (x.length > limits.maxRangeBoundBytes || encoder.encode(x).length > limits.maxRangeBoundBytes) {
    return `${where} is longer than ${limits.maxRangeBoundBytes} bytes`
  }
  return null
}

function isCount(x: unknown, min: number, max: number): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= min && x <= max
}

function checkScan(o: Record<string, unknown>): string | null {
  const problem = checkBound(o.start, 'scan: start', false) ?? checkBound(o.end, 'scan: end', true)
  if (problem !== null) return problem
  if (!isCount(o.limit, 1, limits.maxScanLimit)) return `scan: limit must be an integer from 1 to ${limits.maxScanLimit}`
  if (o.reverse !== undefined && typeof o.reverse !== 'boolean') return 'scan: reverse must be a boolean'
  if (!isCount(o.epoch, 0, Number.MAX_SAFE_INTEGER)) return 'scan: epoch must be an integer ≥ 0'
  return null
}

function checkWatch(o: Record<string, unknown>): string | null {
  if ((o.key === undefined) === (o.prefix === undefined)) return 'watch: give exactly one of key and prefix'
  if (o.key !== undefined) {
    const problem = checkKey(o.key, 'watch')
    if (problem !== null) return problem
  } else {
    const problem = checkBound(o.prefix, 'watch: prefix', false)
    if (problem !== null) return problem
  }
  if (o.fromRevision !== null && !isWireRevision(o.fromRevision)) return 'watch: fromRevision must be null or [epoch, index], two integers ≥ 0'
  if (!isCount(o.maxEvents, 1, limits.maxWatchEvents)) return `watch: maxEvents must be an integer from 1 to ${limits.maxWatchEvents}`
  if (!isCount(o.waitMs, 0, limits.maxWatchWaitMs)) return `watch: waitMs must be an integer from 0 to ${limits.maxWatchWaitMs}`
  return null
}

function checkOp(op: unknown): string | null {
  if (typeof op !== 'object' || op === null) return 'op must be an object'
  const o = op as { op?: unknown; key?: unknown; value?: unknown; entries?: unknown; stale?: unknown; withRevision?: unknown }
  switch (o.op) {
    case 'get':
      if (o.stale !== undefined && typeof o.stale !== 'boolean') return 'get: stale must be a boolean'
      if (o.withRevision !== undefined && typeof o.withRevision !== 'boolean') return 'get: withRevision must be a boolean'
      return checkKey(o.key, 'get')
    case 'scan':
      return checkScan(o)
    case 'watch':
      return checkWatch(o)
    case 'delete':
      return checkKey(o.key, 'delete')
    case 'put':
    case 'append':
      return checkKey(o.key, o.op) ?? checkValue(o.value, o.op)
    case 'batchPut':
      return checkBatch(o.entries)
    default:
      return `unknown operation ${JSON.stringify(o.op)}`
  }
}

function isSeq(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
}

/**
 * The shape of a write operation, without the size limits: what a replica checks when it
 * reads an operation back from its log, where an entry accepted under older limits must
 * still replay.
 */
export function checkWriteOpShape(op: unknown): string | null {
  if (typeof op !== 'object' || op === null) return 'op must be an object'
  const o = op as { op?: unknown; key?: unknown; value?: unknown; entries?: unknown }
  const key = (k: unknown) => (typeof k === 'string' && k.length > 0 ? null : `${String(o.op)}: key must be a non-empty string`)
  switch (o.op) {
    case 'delete':
      return key(o.key)
    case 'put':
    case 'append':
      return key(o.key) ?? (isBytes(o.value) ? null : `${o.op}: value must be bytes`)
    case 'batchPut':
      if (!Array.isArray(o.entries) || o.entries.length === 0) return 'batchPut: entries must be a non-empty list'
      for (const pair of o.entries) {
        if (!Array.isArray(pair) || pair.length !== 2 || key(pair[0]) !== null || !isBytes(pair[1])) {
          return 'batchPut: each entry must be [key, bytes]'
        }
      }
      return null
    default:
      return `unknown write operation ${JSON.stringify(o.op)}`
  }
}

/** Validates a decoded client message. */
export function parseClientRequest(msg: unknown): ParseResult {
  if (typeof msg !== 'object' || msg === null) return { ok: false, reason: 'request must be an object' }
  const m = msg as { type?: unknown; clientId?: unknown; seq?: unknown; ackedSeq?: unknown; op?: unknown }
  if (m.type === 'status') return { ok: true, request: { type: 'status', digest: (m as { digest?: unknown }).digest === true } }
  if (m.type === 'member') return parseMemberRequest(m)
  if (m.type !== 'kv') return { ok: false, reason: `unknown request type ${JSON.stringify(m.type)}` }
  if (typeof m.clientId !== 'string' || m.clientId.length === 0 || m.clientId.length > limits.maxClientIdChars) {
    return { ok: false, reason: 'clientId must be a non-empty string' }
  }
  if (!isSeq(m.seq) || !isSeq(m.ackedSeq)) return { ok: false, reason: 'seq and ackedSeq must be non-negative integers' }
  const problem = checkOp(m.op)
  if (problem !== null) return { ok: false, reason: problem }
  const op = m.op as KvOp
  const isRead = op.op === 'get' || op.op === 'scan' || op.op === 'watch'
  if (!isRead && m.seq === 0) return { ok: false, reason: 'a write needs seq ≥ 1' }
  if (m.ackedSeq >= m.seq && !isRead) return { ok: false, reason: 'ackedSeq must be below seq' }
  return { ok: true, request: { type: 'kv', clientId: m.clientId, seq: m.seq, ackedSeq: m.ackedSeq, op } }
}

const MEMBER_ACTIONS: ReadonlySet<unknown> = new Set(['add', 'promote', 'remove', 'list'])

/** `kv member`'s request: an action, the replica id it is about, and for `add` its host:port. */
function parseMemberRequest(m: Record<string, unknown>): ParseResult {
  const { action, replicaId: id, address } = m
  if (!MEMBER_ACTIONS.has(action)) return { ok: false, reason: `member: unknown action ${JSON.stringify(action)}` }
  if (action === 'list') return { ok: true, request: { type: 'member', action: 'list' } }
  if (typeof id !== 'string' || id.length === 0 || id.length > limits.maxClientIdChars) return { ok: false, reason: 'member: replicaId must be a non-empty string' }
  if (action !== 'add') return { ok: true, request: { type: 'member', action: action as 'promote' | 'remove', replicaId: id } }
  if (typeof address !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(address)) return { ok: false, reason: 'member add: address must be host:port' }
  return { ok: true, request: { type: 'member', action: 'add', replicaId: id, address } }
}
