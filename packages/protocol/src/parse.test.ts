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
    ]) {
      expect(parseClientRequest(req(op))).toMatchObject({ ok: true })
    }
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
  ])('rejects %s with a reason', (_name, msg, reason) => {
    const r = parseClientRequest(msg)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.reason).toMatch(reason)
  })
})
