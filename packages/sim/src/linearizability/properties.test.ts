import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MapStore } from './fixtures.js'
import { checkLinearizability, type KvInput, type KvOperation } from './index.js'

const keys = ['a', 'b', 'c']
/** Written values use only x, y, z; a read of "Q" can never be explained, appends included. */
const neverWritten = 'Q'

const inputArb: fc.Arbitrary<KvInput> = fc.oneof(
  fc.record({ op: fc.constant('get' as const), key: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant('put' as const), key: fc.constantFrom(...keys), value: fc.constantFrom('x', 'y', 'z') }),
  fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant('append' as const), key: fc.constantFrom(...keys), value: fc.constantFrom('x', 'y') }),
  fc.record({
    op: fc.constant('batchPut' as const),
    entries: fc.array(fc.tuple(fc.constantFrom(...keys), fc.constantFrom('x', 'z')), { minLength: 1, maxLength: 3 }),
  }),
)

/** How each op's interval is stretched, and whether its answer is lost. */
const wideningArb = fc.record({
  earlier: fc.nat({ max: 40 }),
  later: fc.nat({ max: 40 }),
  unknown: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  clientId: fc.nat({ max: 4 }),
})

const stepArb = fc.record({ input: inputArb, widening: wideningArb })
type Step = (typeof stepArb) extends fc.Arbitrary<infer T> ? T : never

/**
 * Runs the inputs one after another on a map, op i at ticks [10i, 10i+1], then widens each
 * interval. The op still took effect inside its widened interval, at its original tick,
 * so the sequential order stays a witness: the history must be linearizable.
 */
function widenedSequentialHistory(steps: ReadonlyArray<Step>): KvOperation[] {
  const store = new MapStore()
  return steps.map(({ input, widening }, i) => {
    const output = store.apply(input)
    const call = 10 * i - widening.earlier
    if (widening.unknown) return { clientId: widening.clientId, input, call, return: Infinity, output: { type: 'unknown' } }
    return { clientId: widening.clientId, input, call, return: 10 * i + 1 + widening.later, output }
  })
}

describe('checkLinearizability: properties', () => {
  it('accepts every widened sequential execution of a map', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
        const result = checkLinearizability(widenedSequentialHistory(steps))
        expect(result).toMatchObject({ result: 'ok' })
      }),
      { numRuns: 300 },
    )
  })

  it('rejects the same executions once one read returns a value never written', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 60 }), fc.nat(), (steps, pick) => {
        const history = widenedSequentialHistory(steps)
        const reads = history.filter((op) => op.input.op === 'get' && op.output.type === 'value')
        fc.pre(reads.length > 0)
        const victim = reads[pick % reads.length]!
        victim.output = { type: 'value', value: neverWritten }
        const result = checkLinearizability(history)
        expect(result.result).toBe('illegal')
        if (result.result === 'illegal') expect(result.ops).toContain(victim)
      }),
      { numRuns: 300 },
    )
  })
})

/**
 * The definition, searched naively: some order of the ops respects real time (an op that
 * returned before another was called comes first) and gives every recorded answer. An op
 * with an unknown answer may also be left out (taking effect never).
 */
function bruteForceLinearizable(history: readonly KvOperation[]): boolean {
  const search = (remaining: readonly KvOperation[], state: ReadonlyMap<string, string>): boolean => {
    if (remaining.every((op) => op.output.type === 'unknown')) return true
    return remaining.some((op, i) => {
      if (remaining.some((other) => other.return < op.call)) return false
      const store = new MapStore(state)
      const output = store.apply(op.input)
      if (op.output.type !== 'unknown' && JSON.stringify(output) !== JSON.stringify(op.output)) return false
      return search(remaining.filter((_, j) => j !== i), store.snapshot())
    })
  }
  return search(history, new Map())
}

const smallKeys = ['a', 'b']
const smallInputArb: fc.Arbitrary<KvInput> = fc.oneof(
  fc.record({ op: fc.constant('get' as const), key: fc.constantFrom(...smallKeys) }),
  fc.record({ op: fc.constant('put' as const), key: fc.constantFrom(...smallKeys), value: fc.constantFrom('x', 'y') }),
  fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...smallKeys) }),
  fc.record({ op: fc.constant('append' as const), key: fc.constantFrom(...smallKeys), value: fc.constantFrom('x', 'y') }),
  fc.record({
    op: fc.constant('batchPut' as const),
    entries: fc.array(fc.tuple(fc.constantFrom(...smallKeys), fc.constantFrom('x', 'y')), { minLength: 1, maxLength: 2 }),
  }),
)

/** Any small history, linearizable or not: answers drawn at random from a small domain. */
const arbitraryOpArb: fc.Arbitrary<KvOperation> = fc
  .record({
    input: smallInputArb,
    call: fc.nat({ max: 20 }),
    duration: fc.nat({ max: 10 }),
    unknown: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
    readValue: fc.constantFrom(null, 'x', 'y', 'xy', 'yx', 'xx'),
    existed: fc.boolean(),
  })
  .map(({ input, call, duration, unknown, readValue, existed }): KvOperation => {
    if (unknown) return { clientId: 0, input, call, return: Infinity, output: { type: 'unknown' } }
    const ret = call + duration
    if (input.op === 'get') return { clientId: 0, input, call, return: ret, output: { type: 'value', value: readValue } }
    if (input.op === 'delete') return { clientId: 0, input, call, return: ret, output: { type: 'deleted', existed } }
    return { clientId: 0, input, call, return: ret, output: { type: 'ok' } }
  })

describe('checkLinearizability: agrees with the definition', () => {
  it('gives the brute-force verdict on small arbitrary histories', () => {
    let illegal = 0
    fc.assert(
      fc.property(fc.array(arbitraryOpArb, { maxLength: 7 }), (history) => {
        const expected = bruteForceLinearizable(history) ? 'ok' : 'illegal'
        if (expected === 'illegal') illegal++
        expect(checkLinearizability(history).result).toBe(expected)
      }),
      { numRuns: 1500 },
    )
    // Both verdicts must be well represented, or the comparison proves little.
    expect(illegal).toBeGreaterThan(300)
    expect(illegal).toBeLessThan(1200)
  })
})

/**
 * Runs of overlapping appends, mostly to one key, read now and then: reads see some
 * order of the appends (or not), which exercises matching a read against a pending set.
 * Values include '' and values that are prefixes of others; a batchPut sometimes joins b.
 */
const appendRunOpArb: fc.Arbitrary<KvOperation> = fc
  .record({
    kind: fc.integer({ min: 0, max: 19 }),
    value: fc.constantFrom('x', 'y', 'xy', ''),
    call: fc.nat({ max: 20 }),
    duration: fc.nat({ max: 12 }),
    unknown: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
    readValue: fc.constantFrom(null, '', 'x', 'y', 'xy', 'yx', 'xxy', 'xyx', 'yxy', 'yyx', 'xyxy', 'xyyx'),
    existed: fc.boolean(),
    clientId: fc.nat({ max: 4 }),
  })
  .map(({ kind, value, call, duration, unknown, readValue, existed, clientId }): KvOperation => {
    const key = kind === 19 ? 'b' : 'a'
    const input: KvInput =
      kind < 11
        ? { op: 'append', key, value }
        : kind < 16
          ? { op: 'get', key }
          : kind === 16
            ? { op: 'put', key, value }
            : kind === 17
              ? { op: 'delete', key }
              : kind === 18
                ? { op: 'batchPut', entries: [['a', value], ['b', 'y']] }
                : { op: 'append', key, value }
    if (unknown) return { clientId, input, call, return: Infinity, output: { type: 'unknown' } }
    const ret = call + duration
    if (input.op === 'get') return { clientId, input, call, return: ret, output: { type: 'value', value: readValue } }
    if (input.op === 'delete') return { clientId, input, call, return: ret, output: { type: 'deleted', existed } }
    return { clientId, input, call, return: ret, output: { type: 'ok' } }
  })

describe('checkLinearizability: agrees with the definition on runs of appends', () => {
  it('gives the brute-force verdict on small histories of overlapping appends and reads', () => {
    let illegal = 0
    const runs = 1500
    fc.assert(
      fc.property(fc.array(appendRunOpArb, { maxLength: 8 }), (history) => {
        const expected = bruteForceLinearizable(history) ? 'ok' : 'illegal'
        if (expected === 'illegal') illegal++
        expect(checkLinearizability(history).result).toBe(expected)
      }),
      { numRuns: runs },
    )
    expect(illegal).toBeGreaterThan(runs / 5)
    expect(illegal).toBeLessThan((runs * 4) / 5)
  })
})
