import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { decodeRecord, encodeRecord, LogRecordError, type KvRecord } from './log-record.js'

const b = (s: string) => new TextEncoder().encode(s)
const plain = new Packr({ useRecords: false, moreTypes: false })

function decodeKv(bytes: Uint8Array): KvRecord {
  const r = decodeRecord(bytes)
  if (r.kind !== 'kv') throw new Error(`expected a kv record, got ${r.kind}`)
  return r
}

const record: KvRecord = {
  kind: 'kv',
  v: 1,
  timeMs: 12,
  commands: [
    { clientId: 'c', seq: 3, ackedSeq: 2, op: { op: 'batchPut', entries: [['x', b('y')]] } },
    { clientId: 'd', seq: 1, ackedSeq: 0, op: { op: 'delete', key: 'x' } },
  ],
}

describe('log records', () => {
  it('round-trip through the checked decoder with their kind and version', () => {
    const decoded = decodeKv(encodeRecord(record))
    expect(decoded).toMatchObject({ kind: 'kv', v: 1, timeMs: 12 })
    expect(decoded.commands[0]).toMatchObject({ clientId: 'c', seq: 3, ackedSeq: 2, op: { op: 'batchPut' } })
    expect(decoded.commands[1]).toMatchObject({ op: { op: 'delete', key: 'x' } })
  })

  it('replay the untagged layout of older logs as kv records', () => {
    // What the first release wrote: a bare { timeMs, commands } map.
    const legacy = plain.pack({ timeMs: 7, commands: [{ clientId: 'c', seq: 1, ackedSeq: 0, op: { op: 'put', key: 'k', value: b('v') } }] })
    const decoded = decodeKv(legacy)
    expect(decoded.kind).toBe('kv')
    expect(decoded.timeMs).toBe(7)
    expect(decoded.commands[0]?.op).toMatchObject({ op: 'put', key: 'k' })
  })

  it('keep entries that exceed the gateway limits of today (they were committed under older ones)', () => {
    const longKey = 'k'.repeat(5000)
    const decoded = decodeKv(encodeRecord({ ...record, commands: [{ clientId: 'c', seq: 1, ackedSeq: 0, op: { op: 'delete', key: longKey } }] }))
    expect(decoded.commands[0]?.op).toEqual({ op: 'delete', key: longKey })
  })

  it.each([
    ['bytes cut off mid-value', new Uint8Array([0x92, 0x01]), /not MessagePack/],
    ['a list instead of a map', plain.pack([1, 2]), /must be a map/],
    ['an unknown kind', plain.pack({ kind: 'teleport', v: 1, timeMs: 0, commands: [] }), /unknown log record kind "teleport"/],
    ['a version from a newer release', plain.pack({ kind: 'kv', v: 9, timeMs: 0, commands: [] }), /version 9 is newer/],
    ['a missing time stamp', plain.pack({ kind: 'kv', v: 1, commands: [] }), /timeMs/],
    ['commands that are not a list', plain.pack({ kind: 'kv', v: 1, timeMs: 0, commands: 3 }), /must be a list/],
    ['a command without a client', plain.pack({ kind: 'kv', v: 1, timeMs: 0, commands: [{ seq: 1, ackedSeq: 0, op: { op: 'delete', key: 'a' } }] }), /clientId/],
    ['a command with ackedSeq ≥ seq', plain.pack({ kind: 'kv', v: 1, timeMs: 0, commands: [{ clientId: 'c', seq: 2, ackedSeq: 2, op: { op: 'delete', key: 'a' } }] }), /ackedSeq/],
    ['a read in the log', plain.pack({ kind: 'kv', v: 1, timeMs: 0, commands: [{ clientId: 'c', seq: 1, ackedSeq: 0, op: { op: 'get', key: 'a' } }] }), /unknown write operation "get"/],
    ['a put whose value is a string', plain.pack({ kind: 'kv', v: 1, timeMs: 0, commands: [{ clientId: 'c', seq: 1, ackedSeq: 0, op: { op: 'put', key: 'a', value: 'x' } }] }), /value must be bytes/],
  ])('refuse %s with a typed error', (_name, bytes, reason) => {
    let thrown: unknown
    try {
      decodeRecord(bytes)
    } catch (err) {
      thrown = err
    }
    expect(thrown).toBeInstanceOf(LogRecordError)
    expect((thrown as LogRecordError).code).toBe('BAD_LOG_RECORD')
    expect((thrown as Error).message).toMatch(reason)
  })
})
