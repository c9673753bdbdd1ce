/**
 * Test helpers: short builders for hand-written histories, a reference store, and a
 * generator of histories that a correct concurrent store could have produced.
 */
import { unreachable, type Rng } from '@kv/consensus'
import type { KvInput, KvOperation, KvOutput } from './types.js'

/** A Map-based store: the sequential specification, written the obvious way. */
export class MapStore {
  private readonly map: Map<string, string>

  constructor(initial: ReadonlyMap<string, string> = new Map()) {
    this.map = new Map(initial)
  }

  snapshot(): ReadonlyMap<string, string> {
    return new Map(this.map)
  }

  apply(input: KvInput): KvOutput {
    switch (input.op) {
      case 'get':
        return { type: 'value', value: this.map.get(input.key) ?? null }
      case 'put':
        this.map.set(input.key, input.value)
        return { type: 'ok' }
      case 'delete':
        return { type: 'deleted', existed: this.map.delete(input.key) }
      case 'append':
        this.map.set(input.key, (this.map.get(input.key) ?? '') + input.value)
        return { type: 'ok' }
      case 'batchPut':
        for (const [key, value] of input.entries) this.map.set(key, value)
        return { type: 'ok' }
      default:
        return unreachable(input, 'input')
    }
  }
}

/** Builders: `ret` Infinity makes the output unknown. */
function op(input: KvInput, output: KvOutput, call: number, ret: number, clientId: number): KvOperation {
  return ret === Infinity
    ? { clientId, input, call, return: Infinity, output: { type: 'unknown' } }
    : { clientId, input, call, return: ret, output }
}

export const get = (key: string, value: string | null, call: number, ret: number, clientId = 0): KvOperation =>
  op({ op: 'get', key }, { type: 'value', value }, call, ret, clientId)
export const put = (key: string, value: string, call: number, ret: number, clientId = 0): KvOperation =>
  op({ op: 'put', key, value }, { type: 'ok' }, call, ret, clientId)
export const append = (key: string, value: string, call: number, ret: number, clientId = 0): KvOperation =>
  op({ op: 'append', key, value }, { type: 'ok' }, call, ret, clientId)
export const del = (key: string, existed: boolean, call: number, ret: number, clientId = 0): KvOperation =>
  op({ op: 'delete', key }, { type: 'deleted', existed }, call, ret, clientId)
export const batchPut = (
  entries: ReadonlyArray<readonly [string, string]>,
  call: number,
  ret: number,
  clientId = 0,
): KvOperation => op({ op: 'batchPut', entries }, { type: 'ok' }, call, ret, clientId)

export interface ConcurrentHistoryShape {
  readonly operations: number
  readonly clients: number
  readonly keys: number
  /** Out of 100 ops, how many are batchPuts of 2-3 keys. */
  readonly batchPutPercent: number
  /** Out of 100 ops, how many never learn their answer; half of those take effect. */
  readonly unknownPercent: number
}

interface Planned {
  readonly op: KvOperation
  /** The instant the store applied it; Infinity when it never did. */
  readonly takesEffectAt: number
}

/**
 * A history of `clients` clients, each with one op in flight at a time, against a store
 * that applies each op at an instant inside its interval: linearizable by construction.
 */
export function generateConcurrentHistory(rng: Rng, shape: ConcurrentHistoryShape): KvOperation[] {
  const clientTime = new Array<number>(shape.clients).fill(0)
  const planned: Planned[] = []
  for (let i = 0; i < shape.operations; i++) {
    const clientId = i % shape.clients
    const call = clientTime[clientId]! + rng.int(5)
    const ret = call + 1 + rng.int(30)
    clientTime[clientId] = ret
    const input = randomInput(rng, shape, i)
    const unknown = rng.int(100) < shape.unknownPercent
    // An op the client gave up on may still take effect long after its timeout.
    const effectWindow = unknown ? 90 : ret - call
    const takesEffectAt = unknown && rng.chance(0.5) ? Infinity : call + rng.next() * effectWindow
    const output: KvOutput = { type: 'unknown' }
    planned.push({ op: { clientId, input, call, return: unknown ? Infinity : ret, output }, takesEffectAt })
  }
  const store = new MapStore()
  const applied = planned.filter((p) => p.takesEffectAt !== Infinity)
  for (const { op } of applied.sort((a, b) => a.takesEffectAt - b.takesEffectAt)) {
    const output = store.apply(op.input)
    if (op.return !== Infinity) op.output = output
  }
  return planned.map(({ op }) => op)
}

function randomInput(rng: Rng, shape: ConcurrentHistoryShape, seq: number): KvInput {
  const key = (): string => `k${rng.int(shape.keys)}`
  if (rng.int(100) < shape.batchPutPercent) {
    const entries = Array.from({ length: 2 + rng.int(2) }, (_, i): [string, string] => [key(), `b${seq}.${i}`])
    return { op: 'batchPut', entries }
  }
  switch (rng.int(5)) {
    case 0:
    case 1:
      return { op: 'get', key: key() }
    case 2:
      return { op: 'put', key: key(), value: `v${seq}` }
    case 3:
      return { op: 'append', key: key(), value: `+${seq}` }
    default:
      return { op: 'delete', key: key() }
  }
}
