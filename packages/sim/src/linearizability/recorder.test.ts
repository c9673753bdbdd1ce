import { InvariantError } from '@kv/consensus'
import { describe, expect, it } from 'vitest'
import { batchPut, get, put } from './fixtures.js'
import { checkLinearizability, describeHistory, HistoryRecorder } from './index.js'
import { partitionByKey } from './partition.js'

describe('HistoryRecorder', () => {
  it('records calls and answers in invocation order', () => {
    const recorder = new HistoryRecorder()
    const first = recorder.invoke(1, { op: 'put', key: 'a', value: '1' }, 10)
    const second = recorder.invoke(2, { op: 'get', key: 'a' }, 12)
    recorder.complete(second, { type: 'value', value: '1' }, 20)
    recorder.complete(first, { type: 'ok' }, 15)
    expect(recorder.operations()).toEqual([
      { clientId: 1, input: { op: 'put', key: 'a', value: '1' }, call: 10, return: 15, output: { type: 'ok' } },
      { clientId: 2, input: { op: 'get', key: 'a' }, call: 12, return: 20, output: { type: 'value', value: '1' } },
    ])
  })

  it('records a lost answer, and a still-pending op, as unknown at Infinity', () => {
    const recorder = new HistoryRecorder()
    recorder.completeUnknown(recorder.invoke(1, { op: 'put', key: 'a', value: '1' }, 0))
    recorder.invoke(2, { op: 'delete', key: 'a' }, 5)
    const ops = recorder.operations()
    expect(ops.map((op) => [op.return, op.output.type])).toEqual([
      [Infinity, 'unknown'],
      [Infinity, 'unknown'],
    ])
    expect(checkLinearizability(ops).result).toBe('ok')
  })

  it('refuses to complete an op twice or one it never saw', () => {
    const recorder = new HistoryRecorder()
    const id = recorder.invoke(1, { op: 'get', key: 'a' }, 0)
    recorder.complete(id, { type: 'value', value: null }, 1)
    expect(() => recorder.complete(id, { type: 'value', value: null }, 2)).toThrow(InvariantError)
    expect(() => recorder.completeUnknown(7)).toThrow(/no op with id 7/)
  })
})

describe('describeHistory', () => {
  it('renders ops one per line, sorted by call time, with aligned times', () => {
    const text = describeHistory([get('a', '1', 20, 30, 3), put('a', '1', 5, Infinity, 1), batchPut([['a', '2'], ['b', '3']], 8, 9, 2)])
    expect(text).toBe(
      ['[ 5,  ∞] c1 put a="1" → unknown', '[ 8,  9] c2 batchPut {a="2", b="3"} → ok', '[20, 30] c3 get a → "1"'].join('\n'),
    )
  })

  it('elides the middle of long values', () => {
    const text = describeHistory([get('a', 'x'.repeat(100), 0, 1)])
    expect(text).toContain('(100 chars)')
    expect(text.length).toBeLessThan(80)
  })
})

describe('partitionByKey', () => {
  it('joins keys that a batchPut writes together, in order of first appearance', () => {
    const history = [put('c', '1', 0, 1), put('a', '1', 0, 1), batchPut([['b', '1'], ['c', '2']], 0, 1), get('a', null, 0, 1)]
    expect(partitionByKey(history).map((p) => [p.keys, p.ops.length])).toEqual([
      [['c', 'b'], 2],
      [['a'], 2],
    ])
  })

  it('drops gets whose answer never arrived and empty batches', () => {
    expect(partitionByKey([get('a', 'x', 0, Infinity), batchPut([], 0, 1)])).toEqual([])
  })
})
