import { describe, expect, it } from 'vitest'
import type { WriteOp } from '@kv/protocol'
import { type Command } from '../log-record.js'
import { KvStateMachine } from './kv-machine.js'

const b = (s: string) => new TextEncoder().encode(s)
const str = (v: Uint8Array | null) => (v === null ? null : new TextDecoder().decode(v))

function machine(ttl = 60_000) {
  return new KvStateMachine({ sessionTtlMs: ttl, maxResultsPerSession: 100 })
}

function apply(sm: KvStateMachine, commands: Command[], timeMs = 0) {
  return sm.apply(sm.appliedIndex + 1, 1, { kind: 'kv', v: 1, timeMs, commands })
}

const cmd = (clientId: string, seq: number, op: WriteOp, ackedSeq = 0): Command => ({ clientId, seq, ackedSeq, op })

describe('KvStateMachine', () => {
  it('puts, appends, deletes and batch-puts', () => {
    const sm = machine()
    apply(sm, [
      cmd('c', 1, { op: 'put', key: 'a', value: b('1') }),
      cmd('c', 2, { op: 'append', key: 'a', value: b('2') }),
      cmd('c', 3, { op: 'append', key: 'n', value: b('x') }),
      cmd('c', 4, { op: 'batchPut', entries: [['p', b('P')], ['q', b('Q')]] }),
    ])
    expect(str(sm.get('a'))).toBe('12')
    expect(str(sm.get('n'))).toBe('x')
    expect(str(sm.get('q'))).toBe('Q')
    const [gone, missing] = apply(sm, [cmd('c', 5, { op: 'delete', key: 'a' }), cmd('c', 6, { op: 'delete', key: 'a' })])
    expect(gone).toEqual({ type: 'result', result: { type: 'deleted', existed: true } })
    expect(missing).toEqual({ type: 'result', result: { type: 'deleted', existed: false } })
    expect(sm.get('a')).toBeNull()
  })

  it('applies a retried write once and answers it with its first result', () => {
    const sm = machine()
    apply(sm, [cmd('c', 1, { op: 'append', key: 'k', value: b('x') })])
    apply(sm, [cmd('c', 2, { op: 'delete', key: 'k' })])
    const retried = apply(sm, [cmd('c', 1, { op: 'append', key: 'k', value: b('x') }), cmd('c', 2, { op: 'delete', key: 'k' })])
    expect(sm.get('k')).toBeNull()
    expect(retried[1]).toEqual({ type: 'result', result: { type: 'deleted', existed: true } })
  })

  it('forgets acknowledged answers and refuses a write it can no longer deduplicate', () => {
    const sm = machine()
    apply(sm, [cmd('c', 1, { op: 'append', key: 'k', value: b('x') })])
    apply(sm, [cmd('c', 2, { op: 'append', key: 'k', value: b('y') }, 1)])
    const [again] = apply(sm, [cmd('c', 1, { op: 'append', key: 'k', value: b('x') }, 1)])
    expect(again).toMatchObject({ type: 'error', code: 'BAD_REQUEST' })
    expect(str(sm.get('k'))).toBe('xy')
  })

  it('expires idle sessions by log time and then refuses their retries', () => {
    const sm = machine(1000)
    apply(sm, [cmd('old', 1, { op: 'put', key: 'k', value: b('1') })], 0)
    apply(sm, [cmd('new', 1, { op: 'put', key: 'j', value: b('1') })], 5000)
    expect(sm.sessionCount).toBe(1)
    const [r] = apply(sm, [cmd('old', 2, { op: 'put', key: 'k', value: b('2') }, 1)], 5001)
    expect(r).toMatchObject({ type: 'error', code: 'SESSION_EXPIRED' })
    expect(str(sm.get('k'))).toBe('1')
  })

  it("starts a session for a client's first write here even when it acknowledged writes elsewhere (sharded)", () => {
    const sm = machine(1000)
    const [first] = apply(sm, [cmd('c', 7, { op: 'put', key: 'k', value: b('1') }, 6)], 0)
    expect(first).toEqual({ type: 'result', result: { type: 'ok' } })
    // ...but once that session expired, the mark it leaves refuses the client for one more TTL.
    apply(sm, [cmd('other', 1, { op: 'put', key: 'j', value: b('1') })], 1500)
    expect(apply(sm, [cmd('c', 9, { op: 'put', key: 'k', value: b('2') }, 8)], 1600)[0]).toMatchObject({ code: 'SESSION_EXPIRED' })
    expect(sm.sessionCount).toBe(1)
    apply(sm, [cmd('other', 2, { op: 'put', key: 'j', value: b('2') }, 1)], 2700)
    expect(apply(sm, [cmd('c', 10, { op: 'put', key: 'k', value: b('3') }, 9)], 2800)[0]).toMatchObject({ type: 'result' })
  })

  it('restores from its snapshot to an identical state', () => {
    const sm = machine()
    apply(sm, [cmd('c', 1, { op: 'put', key: 'a', value: b('1') }), cmd('d', 1, { op: 'put', key: 'b', value: b('2') })])
    const copy = machine()
    copy.restore(sm.snapshot())
    expect(copy.digest()).toBe(sm.digest())
    expect(copy.appliedIndex).toBe(sm.appliedIndex)
    // Sessions came along: the retry is answered, not applied.
    apply(copy, [cmd('c', 1, { op: 'put', key: 'a', value: b('changed') })])
    expect(str(copy.get('a'))).toBe('1')
  })

  it('refuses to apply with a gap', () => {
    const sm = machine()
    expect(() => sm.apply(2, 1, { kind: 'kv', v: 1, timeMs: 0, commands: [] })).toThrow(/gap-free/)
  })
})
