import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { PendingAppends } from './appends.js'
import { append, batchPut, del, get, put } from './fixtures.js'
import { checkLinearizability, type KvOperation } from './index.js'
import { KvModel, sameState } from './model.js'
import { ValueTable } from './values.js'

/** The simulator history stored in append-runs.history.json (see its `about`). */
interface StoredHistory {
  readonly key: string
  readonly finalValue: string
  readonly ops: ReadonlyArray<readonly [clientId: number, call: number, ret: number, tokenOrReadLength: string | number]>
}

function loadStoredHistory(): KvOperation[] {
  const stored = JSON.parse(readFileSync(new URL('./append-runs.history.json', import.meta.url), 'utf8')) as StoredHistory
  return stored.ops.map(([clientId, call, ret, tokenOrReadLength]) => {
    if (typeof tokenOrReadLength === 'string') return append(stored.key, tokenOrReadLength, call, ret, clientId)
    const value = tokenOrReadLength < 0 ? null : stored.finalValue.slice(0, tokenOrReadLength)
    return get(stored.key, value, call, ret, clientId)
  })
}

describe('checkLinearizability: appends commute until observed', () => {
  it('verifies a simulator history of 1,710 ops with long runs of overlapping appends to one key', () => {
    const history = loadStoredHistory()
    expect(history).toHaveLength(1710)
    expect(checkLinearizability(history)).toMatchObject({ result: 'ok' })
  })

  it('accepts every order of overlapping appends that real time allows, and only those', () => {
    // x and y overlap; z was called after x returned.
    const base = [append('a', 'x', 0, 10, 1), append('a', 'y', 5, 30, 2), append('a', 'z', 12, 20, 3)]
    for (const read of ['xyz', 'xzy', 'yxz']) {
      expect(checkLinearizability([...base, get('a', read, 40, 41, 4)]).result).toBe('ok')
    }
    for (const read of ['zxy', 'zyx', 'yzx']) {
      expect(checkLinearizability([...base, get('a', read, 40, 41, 4)]).result).toBe('illegal')
    }
  })

  it('rejects a read whose order contradicts real time', () => {
    // x returned at 10, before y was called at 11, so no read may show y before x.
    const history = [append('a', 'x', 0, 10, 1), append('a', 'y', 11, 20, 2), get('a', 'yx', 25, 26, 3)]
    const result = checkLinearizability(history)
    expect(result.result).toBe('illegal')
    if (result.result === 'illegal') expect(result.explanation).toContain('any order of ["x", "y"]')
  })

  it('rejects a read that misses a completed append', () => {
    const history = [append('a', 'x', 0, 10, 1), append('a', 'y', 5, 15, 2), append('a', 'z', 6, 16, 3), get('a', 'xz', 20, 21, 4)]
    expect(checkLinearizability(history).result).toBe('illegal')
  })

  it('rejects a read that shows one append twice', () => {
    const history = [append('a', 'x', 0, 10, 1), append('a', 'y', 5, 15, 2), get('a', 'xyx', 20, 21, 3)]
    expect(checkLinearizability(history).result).toBe('illegal')
  })

  it('rejects a read that shows a value never appended', () => {
    const history = [put('a', 'p', 0, 1), append('a', 'x', 2, 10, 1), append('a', 'y', 5, 15, 2), get('a', 'pxQy', 20, 21, 3)]
    expect(checkLinearizability(history).result).toBe('illegal')
    const withoutPrefix = [put('a', 'p', 0, 1), append('a', 'x', 2, 10, 1), get('a', 'qx', 20, 21, 3)]
    expect(checkLinearizability(withoutPrefix).result).toBe('illegal')
  })

  it('matches values that are prefixes of one another without splitting them', () => {
    const base = [append('a', 'ab', 0, 10, 1), append('a', 'a', 0, 10, 2), append('a', 'b', 0, 10, 3)]
    expect(checkLinearizability([...base, get('a', 'aabb', 20, 21, 4)]).result).toBe('ok')
    expect(checkLinearizability([...base, get('a', 'abab', 20, 21, 4)]).result).toBe('ok')
    expect(checkLinearizability([...base, get('a', 'aab', 20, 21, 4)]).result).toBe('illegal')
  })

  it('tries each of two equal values first when real time allows only one of them', () => {
    // y returned before the short x was called, so the read's first x is the long one.
    const history = [append('a', 'x', 4, 5, 1), append('a', 'x', 0, 10, 2), append('a', 'y', 0, 3, 3), get('a', 'xyx', 11, 12, 4)]
    expect(checkLinearizability(history).result).toBe('ok')
  })

  it('lets each later read fix the order of the appends since the one before', () => {
    const history = [
      append('a', 'x', 0, 10, 1),
      append('a', 'y', 0, 10, 2),
      get('a', 'yx', 11, 12, 3),
      append('a', 'z', 13, 20, 1),
      append('a', 'w', 13, 20, 2),
      get('a', 'yxwz', 21, 22, 3),
    ]
    expect(checkLinearizability(history).result).toBe('ok')
    const reordered = [...history.slice(0, 5), get('a', 'xywz', 21, 22, 3)]
    expect(checkLinearizability(reordered).result).toBe('illegal')
  })

  it('does not let the first read that fits fix the order for reads that overlap it', () => {
    // Both reads and the put overlap: "yx", then the put of "xy", then "xy" explains them.
    const history = [
      append('a', 'x', 0, 10, 1),
      append('a', 'y', 0, 10, 2),
      get('a', 'xy', 11, 20, 3),
      get('a', 'yx', 11, 20, 4),
      put('a', 'xy', 11, 20, 5),
    ]
    expect(checkLinearizability(history).result).toBe('ok')
  })

  it('takes an append whose answer was lost as optional', () => {
    const base = [append('a', 'x', 0, 10, 1), append('a', 'y', 5, Infinity, 2)]
    expect(checkLinearizability([...base, get('a', 'x', 20, 21, 3)]).result).toBe('ok')
    expect(checkLinearizability([...base, get('a', 'yx', 20, 21, 3)]).result).toBe('ok')
    expect(checkLinearizability([...base, get('a', 'yy', 20, 21, 3)]).result).toBe('illegal')
  })

  it('counts a key with pending appends as present for a delete, and clears them', () => {
    const history = [append('a', 'x', 0, 10, 1), append('a', 'y', 0, 10, 2), del('a', true, 11, 12, 3), get('a', null, 13, 14, 3)]
    expect(checkLinearizability(history).result).toBe('ok')
    const missed = [append('a', 'x', 0, 10, 1), del('a', false, 11, 12, 3)]
    expect(checkLinearizability(missed).result).toBe('illegal')
  })

  it('lets a batchPut overwrite pending appends in a partition of several keys', () => {
    const history = [
      append('a', 'x', 0, 10, 1),
      append('a', 'y', 0, 10, 2),
      batchPut([['a', 'p'], ['b', 'q']], 11, 12, 3),
      append('a', 'z', 13, 20, 1),
      append('b', 'w', 13, 20, 2),
      get('a', 'pz', 21, 22, 3),
      get('b', 'qw', 21, 22, 4),
    ]
    expect(checkLinearizability(history).result).toBe('ok')
    const stale = [...history.slice(0, 5), get('a', 'xyz', 21, 22, 3)]
    expect(checkLinearizability(stale).result).toBe('illegal')
  })
})

describe('KvModel with pending appends', () => {
  it('reaches one state, with one hash, from two orders of the same appends', () => {
    const ops = [append('a', 'x', 0, 10, 1), append('a', 'y', 0, 10, 2), append('a', 'z', 0, 10, 3)]
    const model = new KvModel({ keys: ['a'], ops })
    const run = (order: readonly number[]) => order.reduce((state, op) => model.step(op, state)!, model.initial)
    const forward = run([0, 1, 2])
    const backward = run([2, 0, 1])
    expect(forward).not.toBe(backward)
    expect(backward.hash).toBe(forward.hash)
    expect(sameState(forward, backward)).toBe(true)
    expect(sameState(forward, run([0, 1]))).toBe(false)
  })
})

describe('PendingAppends', () => {
  it('gives up, rather than answer, when a match would take too many steps', () => {
    // 26 overlapping appends of a, aa, aaa, ...: every order fits until the final "b".
    const values = new ValueTable()
    const count = 26
    const valueOfOp = Int32Array.from({ length: count + 1 }, (_, op) => values.id('a'.repeat(op + 1)))
    const total = (count * (count + 1)) / 2
    const read = values.id(`${'a'.repeat(total - 1)}b`)
    const times = new Float64Array(count + 1)
    const appends = new PendingAppends(values, valueOfOp, times, times.map(() => 10))
    const pending = Array.from({ length: count }, (_, op) => op)
    expect(appends.matches(-1, read, pending)).toBe(false)
    expect(appends.gaveUp).toBe(true)
  })

  it('finds an order of a few appends without giving up', () => {
    const values = new ValueTable()
    const valueOfOp = Int32Array.from(['ab', 'a', 'b'], (text) => values.id(text))
    const calls = Float64Array.of(0, 0, 0)
    const returns = Float64Array.of(10, 10, 10)
    const appends = new PendingAppends(values, valueOfOp, calls, returns)
    expect(appends.matches(values.id('p'), values.id('pabab'), [0, 1, 2])).toBe(true)
    expect(appends.matches(values.id('p'), values.id('pbaab'), [0, 1, 2])).toBe(true)
    expect(appends.matches(values.id('p'), values.id('pbbaa'), [0, 1, 2])).toBe(false)
    expect(appends.gaveUp).toBe(false)
  })
})
