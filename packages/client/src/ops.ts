import { formatRevision, parseClientRequest, type ClientResponse, type KvOp, type OpResult, type WriteOp } from '@kv/protocol'
import { notLeaderOutcome, type Interpretation } from './call.js'
import { BadRequestError, CompactedError, KvError, ProtocolError, SessionExpiredError } from './errors.js'
import { parseClientResponse } from './response.js'

/** A value as callers give it: strings are stored as their UTF-8 bytes. */
export type Value = string | Uint8Array

export type BatchEntries = ReadonlyArray<readonly [string, Value]> | Readonly<Record<string, Value>>

const encoder = new TextEncoder()

export function toBytes(value: Value, where: string): Uint8Array {
  if (typeof value === 'string') return encoder.encode(value)
  if (value instanceof Uint8Array) return value
  throw new BadRequestError(`${where}: value must be a string or a Uint8Array`)
}

export function batchOp(entries: BatchEntries): WriteOp {
  const list: ReadonlyArray<readonly [string, Value]> = Array.isArray(entries)
    ? (entries as ReadonlyArray<readonly [string, Value]>)
    : Object.entries(entries as Readonly<Record<string, Value>>)
  return { op: 'batchPut', entries: list.map(([k, v]) => [k, toBytes(v, 'batchPut')] as const) }
}

/**
 * Checks an operation with the replicas' own gateway (`parseClientRequest` and `limits`) so
 * that a request they would refuse never leaves the process.
 */
export function checkOp(op: KvOp): void {
  const read = op.op === 'get' || op.op === 'scan' || op.op === 'watch'
  const probe = read ? { seq: 0, ackedSeq: 0 } : { seq: 1, ackedSeq: 0 }
  const checked = parseClientRequest({ type: 'kv', clientId: 'probe', ...probe, op })
  if (!checked.ok) throw new BadRequestError(checked.reason)
}

/** Which result type answers which operation. */
const EXPECTED: Readonly<Record<KvOp['op'], OpResult['type']>> = {
  get: 'value',
  put: 'ok',
  append: 'ok',
  batchPut: 'ok',
  delete: 'deleted',
  scan: 'scan',
  watch: 'events',
}

/** Reads a replica's reply to `op`: an answer to return, or what to do next. */
export function interpretKvReply(op: KvOp, raw: unknown): Interpretation<OpResult> {
  const response = parseClientResponse(raw)
  if ('invalid' in response) return { kind: 'invalid', reason: response.invalid }
  if (response.type === 'result') {
    if (response.result.type !== EXPECTED[op.op]) {
      return { kind: 'fail', error: new ProtocolError(`${op.op} answered with a ${response.result.type} result`) }
    }
    return { kind: 'done', value: response.result }
  }
  return interpretError(response)
}

export function interpretError<T = OpResult>(e: Extract<ClientResponse, { type: 'error' }>): Interpretation<T> {
  switch (e.code) {
    case 'NOT_LEADER':
      return notLeaderOutcome(e)
    case 'TIMEOUT':
    case 'UNAVAILABLE':
    case 'WRONG_SHARD':
      return { kind: 'retry', code: e.code, message: e.message }
    case 'BAD_REQUEST':
      return { kind: 'fail', error: new BadRequestError(e.message) }
    case 'SESSION_EXPIRED':
      return { kind: 'fail', error: new SessionExpiredError(e.message) }
    case 'COMPACTED':
      return { kind: 'fail', error: new CompactedError(e.message, e.oldest === undefined ? '0.0' : formatRevision(e.oldest)) }
    default: {
      const never: never = e.code
      return { kind: 'fail', error: new KvError('PROTOCOL_ERROR', `unknown error code ${String(never)}`) }
    }
  }
}
