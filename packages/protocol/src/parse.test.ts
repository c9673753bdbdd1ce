import { describe, expect, it } from 'vitest'
import { limits } from './limits.js'
import { parseClientRequest } from './parse.js'

const bytes = (s: string) => new TextEncoder().encode(s)
const req = (op: unknown, seq = 1, ackedSeq = 0) => ({ type: 'kv', clientId: 'c1', seq, ackedSeq, op })

describe('parseClientRequest', () => {
  it('accepts every well-formed operation', () => {
    for (const op of [
      { op: 'get', key: 'a' },
      { op: 'put', key: 'a', value: bytes('1') },
      { op: 'delete', key: 'a' },
      { op: 'append', key: 'a', value: bytes('x') },
      { op: 'batchPut', entries: [['a', bytes('1')], ['b', bytes('2')]] },
      { op: 'get', key: 'a', withRevision: true },
      { op: 'scan', start: '', end: null, limit: 10, epoch: 0 },
      { op: 'scan', start: 'a', end: 'b', limit: 1, reverse: true, epoch: 3 },
      { op: 'watch', key: 'a', fromRevision: null, maxEvents: 10, waitMs: 1000 },
      { op: 'watch', prefix: '', fromRevision: [2, 40], maxEvents: 1, waitMs: 0 },
    ]) {
      expect(parseClientRequest(req(op))).toMatchObject({ ok: true })
    }
  })

  it('takes scans and watches as reads (seq 0)', () => {
    expect(parseClientRequest(req({ op: 'scan', start: '', end: null, limit: 10, epoch: 0 }, 0))).toMatchObject({ ok: true })
    expect(parseClientRequest(req({ op: 'watch', key: 'a', fromRevision: null, maxEvents: 10, waitMs: 10 }, 0))).toMatchObject({ ok: true })
  })
  it.each([
    ['an unknown operation', req({ op: 'incr', key: 'a' }), /unknown operation/],
    ['a non-object', 'hello', /must be an object/],
    ['an unknown request type', { type: 'nope' }, /unknown request type/],
    ['an empty key', req({ op: 'get', key: '' }), /empty/],
    ['a key over the limit', req({ op: 'get', key: 'k'.repeat(limits.maxKeyBytes + 1) }), /longer than/],
    ['a value over the limit', req({ op: 'put', key: 'a', value: new Uint8Array(limits.maxValueBytes + 1) }), /larger than/],
    ['a string value', req({ op: 'put', key: 'a', value: 'x' }), /bytes/],
    ['an empty batch', req({ op: 'batchPut', entries: [] }), /empty/],
    ['a write without a seq', req({ op: 'put', key: 'a', value: bytes('1') }, 0), /seq ≥ 1/],
    ['an acked watermark at or past seq', req({ op: 'put', key: 'a', value: bytes('1') }, 3, 3), /ackedSeq/],
    ['a negative seq', req({ op: 'get', key: 'a' }, -1), /non-negative/],
    ['a scan without a limit', req({ op: 'scan', start: '', end: null, epoch: 0 }), /limit/],
    ['a scan over the limit', req({ op: 'scan', start: '', end: null, limit: limits.maxScanLimit + 1, epoch: 0 }), /limit/],
    ['a scan with a number bound', req({ op: 'scan', start: 1, end: null, limit: 1, epoch: 0 }), /start must be a string/],
    ['a scan with a long bound', req({ op: 'scan', start: 'k'.repeat(limits.maxRangeBoundBytes + 1), end: null, limit: 1, epoch: 0 }), /longer than/],
    ['a scan without an epoch', req({ op: 'scan', start: '', end: null, limit: 1 }), /epoch/],
    ['a watch of a key and a prefix', req({ op: 'watch', key: 'a', prefix: 'a', fromRevision: null, maxEvents: 1, waitMs: 0 }), /exactly one/],
    ['a watch of neither', req({ op: 'watch', fromRevision: null, maxEvents: 1, waitMs: 0 }), /exactly one/],
    ['a watch from a string revision', req({ op: 'watch', key: 'a', fromRevision: '1.2', maxEvents: 1, waitMs: 0 }), /fromRevision/],
    ['a watch from a negative revision', req({ op: 'watch', key: 'a', fromRevision: [1, -2], maxEvents: 1, waitMs: 0 }), /fromRevision/],
    ['a watch of too many events', req({ op: 'watch', key: 'a', fromRevision: null, maxEvents: limits.maxWatchEvents + 1, waitMs: 0 }), /maxEvents/],
    ['a watch held too long', req({ op: 'watch', key: 'a', fromRevision: null, maxEvents: 1, waitMs: limits.maxWatchWaitMs + 1 }), /waitMs/],
    ['a get withRevision that is not a boolean', req({ op: 'get', key: 'a', withRevision: 1 }), /withRevision/],
  ])('rejects %s with a reason', (_name, msg, reason) => {
    const r = parseClientRequest(msg)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.reason).toMatch(reason)
  })
})

describe('membership admin requests', () => {
  it.each([
    [{ type: 'member', action: 'list' }, { type: 'member', action: 'list' }],
    [{ type: 'member', action: 'add', replicaId: 'g1-r4', address: 'host4:7004' }, { type: 'member', action: 'add', replicaId: 'g1-r4', address: 'host4:7004' }],
    [{ type: 'member', action: 'remove', replicaId: 'g1-r1' }, { type: 'member', action: 'remove', replicaId: 'g1-r1' }],
  ])('takes %j', (raw, request) => {
    expect(parseClientRequest(raw)).toEqual({ ok: true, request })
  })

  it.each([
    ['an unknown action', { type: 'member', action: 'join', replicaId: 'x' }],
    ['a change without an id', { type: 'member', action: 'promote' }],
    ['an add without an address', { type: 'member', action: 'add', replicaId: 'g1-r4' }],
    ['an address without a port', { type: 'member', action: 'add', replicaId: 'g1-r4', address: 'host4' }],
  ])('refuses %s', (_name, raw) => {
    expect(parseClientRequest(raw).ok).toBe(false)
  })
})
