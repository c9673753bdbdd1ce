import { describe, expect, it, vi } from 'vitest'
import { createRng } from '@kv/consensus'
import { append, batchPut, del, generateConcurrentHistory, get, put } from './fixtures.js'
import { checkLinearizability, HistoryError, type CheckResult, type KvOperation } from './index.js'

function expectIllegal(result: CheckResult): Extract<CheckResult, { result: 'illegal' }> {
  expect(result.result).toBe('illegal')
  if (result.result !== 'illegal') throw new Error('unreachable')
  return result
}

describe('checkLinearizability: linearizable histories', () => {
  it('accepts an empty history', () => {
    expect(checkLinearizability([])).toMatchObject({ result: 'ok' })
  })

  it('accepts a sequential history that a map would produce', () => {
    const history = [
      get('a', null, 0, 1),
      put('a', '1', 2, 3),
      get('a', '1', 4, 5),
      append('a', 'x', 6, 7),
      get('a', '1x', 8, 9),
      del('a', true, 10, 11),
      del('a', false, 12, 13),
      append('a', 'y', 14, 15),
      get('a', 'y', 16, 17),
    ]
    expect(checkLinearizability(history)).toMatchObject({ result: 'ok' })
  })

  it('accepts overlapping ops whose answers fit some order inside their intervals', () => {
    // The get overlaps both puts and sees the second, so the order is put 1, put 2, get.
    const history = [
      put('a', '1', 0, 10, 1),
      put('a', '2', 5, 15, 2),
      get('a', '2', 3, 12, 3),
      get('a', '2', 16, 17, 3),
    ]
    expect(checkLinearizability(history)).toMatchObject({ result: 'ok' })
  })

  it('accepts concurrent appends read in either order', () => {
    const base = [append('a', 'x', 0, 10, 1), append('a', 'y', 5, 15, 2)]
    expect(checkLinearizability([...base, get('a', 'xy', 20, 21, 3)]).result).toBe('ok')
    expect(checkLinearizability([...base, get('a', 'yx', 20, 21, 3)]).result).toBe('ok')
  })

  it('counts ops that touch at one instant as concurrent', () => {
    // The get was called at the tick the put returned: on a coarse clock either came first.
    const history = [put('a', '1', 0, 5, 1), put('a', '2', 5, 9, 2), get('a', '1', 9, 12, 3)]
    expect(checkLinearizability(history).result).toBe('ok')
  })

  it('checks keys independently', () => {
    const history = [put('a', '1', 0, 10, 1), put('b', '1', 0, 10, 2), get('b', '1', 11, 12, 1), get('a', '1', 11, 12, 2)]
    expect(checkLinearizability(history).result).toBe('ok')
  })
})

describe('checkLinearizability: violations', () => {
  it('rejects a stale read after a put completed', () => {
    const history = [put('a', '0', 0, 1, 1), put('a', '1', 2, 5, 1), get('a', '0', 6, 8, 2)]
    const result = expectIllegal(checkLinearizability(history))
    expect(result.key).toBe('a')
    expect(result.ops).toHaveLength(3)
    expect(result.explanation).toContain('get a → "0" [6, 8]')
    expect(result.explanation).toContain('leaving {a="1"}')
  })

  it('rejects a lost update among concurrent appends', () => {
    const history = [append('a', 'x', 0, 10, 1), append('a', 'y', 5, 15, 2), get('a', 'y', 20, 21, 3)]
    const result = expectIllegal(checkLinearizability(history))
    expect(result.explanation).toContain('get a → "y"')
  })

  it('rejects a read of a value never written', () => {
    const history = [put('a', '1', 0, 10, 1), get('a', 'ghost', 3, 12, 2)]
    const result = expectIllegal(checkLinearizability(history))
    expect(result.explanation).toContain('then c2 get a → "ghost" [3, 12] must take effect')
    const alone = expectIllegal(checkLinearizability([get('a', 'ghost', 0, 1)]))
    expect(alone.explanation).toContain('no op can be linearized first')
  })

  it('rejects a delete that reports the key absent after a put', () => {
    const history = [put('a', '1', 0, 1), del('a', false, 2, 3)]
    expect(checkLinearizability(history).result).toBe('illegal')
  })

  it('rejects a delete that reports a never-written key as existing', () => {
    expect(checkLinearizability([del('a', true, 0, 1)]).result).toBe('illegal')
  })

  it('rejects a value that comes back after a completed delete', () => {
    const history = [put('a', '1', 0, 1, 1), del('a', true, 2, 3, 1), get('a', '1', 4, 5, 2)]
    expect(checkLinearizability(history).result).toBe('illegal')
  })

  it('reports the first illegal partition and only its ops', () => {
    const history = [put('ok', '1', 0, 1), get('ok', '1', 2, 3), put('bad', '1', 0, 1), get('bad', null, 2, 3)]
    const result = expectIllegal(checkLinearizability(history))
    expect(result.key).toBe('bad')
    expect(result.ops.map((op) => op.input)).toEqual([
      { op: 'put', key: 'bad', value: '1' },
      { op: 'get', key: 'bad' },
    ])
  })
})

describe('checkLinearizability: ops whose outcome is unknown', () => {
  const lostPut = put('a', '1', 0, Infinity, 1)

  it('accepts a write that timed out and took effect', () => {
    expect(checkLinearizability([lostPut, get('a', '1', 5, 6, 2)]).result).toBe('ok')
  })

  it('accepts a write that timed out and never took effect', () => {
    expect(checkLinearizability([lostPut, get('a', null, 5, 6, 2), get('a', null, 50, 60, 2)]).result).toBe('ok')
  })

  it('accepts a write that took effect after later reads missed it', () => {
    const history = [lostPut, get('a', null, 5, 6, 2), get('a', '1', 50, 60, 2)]
    expect(checkLinearizability(history).result).toBe('ok')
  })

  it('rejects a timed-out write that takes effect and then is undone', () => {
    const history = [lostPut, get('a', '1', 5, 6, 2), get('a', null, 7, 8, 2)]
    expect(checkLinearizability(history).result).toBe('illegal')
  })

  it('rejects a timed-out write seen before it was called', () => {
    const history = [get('a', '1', 0, 1, 2), put('a', '1', 2, Infinity, 1)]
    expect(checkLinearizability(history).result).toBe('illegal')
  })

  it('accepts a timed-out delete either way, and ignores a get with no answer', () => {
    const history = [put('a', '1', 0, 1), del('a', true, 2, Infinity, 1), get('a', 'anything', 3, Infinity, 2)]
    expect(checkLinearizability([...history, get('a', '1', 4, 5, 3)]).result).toBe('ok')
    expect(checkLinearizability([...history, get('a', null, 4, 5, 3)]).result).toBe('ok')
  })
})

describe('checkLinearizability: batchPut', () => {
  it('accepts readers that see a batch whole', () => {
    const history = [batchPut([['a', '1'], ['b', '1']], 0, 10, 1), get('a', '1', 2, 3, 2), get('b', '1', 4, 5, 2)]
    expect(checkLinearizability(history).result).toBe('ok')
  })

  it('rejects a reader that sees one half of a batch after another reader saw the other half', () => {
    // Reader 2 saw a from the batch, so the batch took effect by tick 3; b must be there at 4.
    const history = [batchPut([['a', '1'], ['b', '1']], 0, 10, 1), get('a', '1', 2, 3, 2), get('b', null, 4, 5, 3)]
    const result = expectIllegal(checkLinearizability(history))
    expect(['a', 'b']).toContain(result.key)
    expect(result.ops).toHaveLength(3)
  })

  it('rejects a mix of two concurrent batches that no order of them explains', () => {
    // a=2 then b=1 means batch 2 then batch 1; a later read of a must then see 1, not 2.
    const history = [
      batchPut([['a', '1'], ['b', '1']], 0, 100, 1),
      batchPut([['a', '2'], ['b', '2']], 0, 100, 2),
      get('a', '2', 10, 11, 3),
      get('b', '1', 20, 21, 3),
      get('a', '2', 30, 31, 3),
    ]
    // Each key alone is fine (a: 1, 2; b: 2, 1): only the two keys together show the tear.
    const result = expectIllegal(checkLinearizability(history))
    expect(result.explanation).toContain('on keys a, b')
    // The same reads with the last one seeing batch 1 are linearizable.
    const fixed = [...history.slice(0, 4), get('a', '1', 30, 31, 3)]
    expect(checkLinearizability(fixed).result).toBe('ok')
  })

  it('reports a violation on one key of a joined partition on that key alone', () => {
    const history = [batchPut([['a', '1'], ['b', '1']], 0, 1), put('c', '1', 0, 1), get('b', null, 2, 3)]
    const result = expectIllegal(checkLinearizability(history))
    expect(result.key).toBe('b')
    expect(result.explanation).toContain('batchPuts shown as their put of b')
    expect(result.ops.map((op) => op.input.op)).toEqual(['batchPut', 'get'])
  })
})

describe('checkLinearizability: step budget and malformed histories', () => {
  it('gives the same verdict after the same number of steps in two runs of one history, whatever the clock says', () => {
    const shape = { operations: 1000, clients: 10, keys: 20 }
    const histories = [
      generateConcurrentHistory(createRng(3), { ...shape, batchPutPercent: 5, unknownPercent: 0 }),
      generateConcurrentHistory(createRng(4), { ...shape, batchPutPercent: 0, unknownPercent: 2 }),
      hardIllegalHistory(12),
    ]
    for (const history of histories) {
      const first = checkLinearizability(history)
      let now = 0
      const clock = vi.spyOn(performance, 'now').mockImplementation(() => (now += 3_600_000)) // an hour a read
      const second = checkLinearizability(history)
      clock.mockRestore()
      expect(first.result).not.toBe('unknown')
      expect(first.searchSteps).toBeGreaterThan(0)
      expect(second).toEqual(first)
    }
  })

  it('answers unknown, never ok, when a tiny step budget runs out on a hard history', () => {
    const history = hardIllegalHistory(24)
    for (const maxSearchSteps of [0, 1, 10, 1000]) {
      const result = checkLinearizability(history, { maxSearchSteps })
      expect(result).toMatchObject({
        result: 'unknown',
        reason: expect.stringContaining(`budget of ${maxSearchSteps} search steps`),
        searchSteps: maxSearchSteps,
      })
    }
  })

  it('gives its verdict with exactly the steps it needs, and unknown with one fewer', () => {
    const history = hardIllegalHistory(12)
    const { searchSteps } = checkLinearizability(history)
    expect(checkLinearizability(history, { maxSearchSteps: searchSteps }).result).toBe('illegal')
    expect(checkLinearizability(history, { maxSearchSteps: searchSteps - 1 }).result).toBe('unknown')
  })

  it('needs no step for writes alone: ok even with a budget of 0', () => {
    const history = [put('a', '1', 0, 2, 1), put('a', '2', 1, 3, 2)]
    expect(checkLinearizability(history, { maxSearchSteps: 0 })).toEqual({ result: 'ok', searchSteps: 0 })
  })

  it('refuses a step budget that is not a non-negative integer', () => {
    for (const maxSearchSteps of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => checkLinearizability([], { maxSearchSteps })).toThrow(RangeError)
    }
  })

  it('throws a HistoryError for an op that returns before its call', () => {
    expect(() => checkLinearizability([put('a', '1', 5, 1)])).toThrow(HistoryError)
  })

  it('throws a HistoryError for an output that cannot answer its input', () => {
    const wrong: KvOperation = { clientId: 0, input: { op: 'get', key: 'a' }, call: 0, return: 1, output: { type: 'ok' } }
    expect(() => checkLinearizability([wrong])).toThrow(/cannot answer a get/)
  })
})

/**
 * Many concurrent appends whose outcome is unknown, then a read no subset of them can
 * build: the search must try every subset in every order before it can say illegal.
 */
function hardIllegalHistory(appends: number): KvOperation[] {
  const history = Array.from({ length: appends }, (_, i) => append('a', String.fromCharCode(97 + (i % 26)), 0, Infinity, i))
  history.push(get('a', 'never', 10, 11, appends))
  return history
}
