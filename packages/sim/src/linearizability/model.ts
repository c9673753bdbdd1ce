import { assert, unreachable } from '@kv/consensus'
import { cellHash } from './hash.js'
import type { Partition } from './partition.js'
import type { KvOperation } from './types.js'
import { ABSENT, ValueTable } from './values.js'

/**
 * The sequential specification of one partition: a map from the partition's keys to
 * values. States are immutable; a step that changes nothing returns the same object, so
 * the cache's equality check usually ends at the reference.
 */
export interface ModelState {
  /** The value id held by each key index, or ABSENT. */
  readonly values: readonly number[]
  /** XOR of cellHash(key, value) over all keys. */
  readonly hash: number
}

const GET = 0
const PUT = 1
const DELETE = 2
const APPEND = 3
const BATCH_PUT = 4

/** A delete's `expected` when its answer never arrived: either outcome is legal. */
const EXISTED_UNKNOWN = -1

const noEntries = new Int32Array(0)

/**
 * The partition's operations compiled to flat arrays, indexed by the op's position in
 * `partition.ops`, so a step reads numbers and never strings.
 */
export class KvModel {
  readonly values = new ValueTable()
  readonly initial: ModelState
  /** The key indices each op touches. */
  readonly keysOfOp: Int32Array[]
  private readonly kind: Uint8Array
  /** The key index of a single-key op. */
  private readonly key: Int32Array
  /** put, append: the value id written. get: the value id read. delete: 1, 0 or EXISTED_UNKNOWN. */
  private readonly argument: Int32Array
  /** The key indices and value ids of a batchPut; empty for other ops. */
  private readonly batchKeys: Int32Array[]
  private readonly batchValues: Int32Array[]

  constructor(private readonly partition: Partition) {
    const n = partition.ops.length
    this.kind = new Uint8Array(n)
    this.key = new Int32Array(n)
    this.argument = new Int32Array(n)
    this.batchKeys = new Array<Int32Array>(n).fill(noEntries)
    this.batchValues = new Array<Int32Array>(n).fill(noEntries)
    const keyIndex = new Map(partition.keys.map((key, index) => [key, index]))
    for (let i = 0; i < n; i++) this.compile(i, partition.ops[i]!, keyIndex)
    this.keysOfOp = Array.from({ length: n }, (_, op) =>
      this.kind[op] === BATCH_PUT ? this.batchKeys[op]! : Int32Array.of(this.key[op]!),
    )
    const empty = partition.keys.map(() => ABSENT)
    this.initial = { values: empty, hash: hashValues(empty) }
  }

  get keyCount(): number {
    return this.partition.keys.length
  }

  /**
   * Whether `op` leaves every state it is legal in unchanged: a get, or a delete known to
   * have found nothing. (A put of the current value is not: elsewhere it changes things.)
   */
  isReadOnly(op: number): boolean {
    return this.kind[op] === GET || (this.kind[op] === DELETE && this.argument[op] === 0)
  }

  /** The state after `op`, or null when its recorded output is not what the model answers. */
  step(op: number, state: ModelState): ModelState | null {
    switch (this.kind[op]!) {
      case GET:
        return state.values[this.key[op]!] === this.argument[op] ? state : null
      case PUT:
        return withValue(state, this.key[op]!, this.argument[op]!)
      case DELETE:
        return this.stepDelete(op, state)
      case APPEND: {
        const key = this.key[op]!
        return withValue(state, key, this.values.append(state.values[key]!, this.argument[op]!))
      }
      default:
        return this.stepBatchPut(op, state)
    }
  }

  /** The state as text for explanations: `{a="1", b=absent}`. */
  describeState(state: ModelState): string {
    const cells = this.partition.keys.map((key, index) => {
      const text = this.values.text(state.values[index]!)
      return `${key}=${text === null ? 'absent' : JSON.stringify(text)}`
    })
    return `{${cells.join(', ')}}`
  }

  private stepDelete(op: number, state: ModelState): ModelState | null {
    const key = this.key[op]!
    const existed = state.values[key] !== ABSENT
    const expected = this.argument[op]
    if (expected !== EXISTED_UNKNOWN && expected !== (existed ? 1 : 0)) return null
    return existed ? withValue(state, key, ABSENT) : state
  }

  private stepBatchPut(op: number, state: ModelState): ModelState {
    const keys = this.batchKeys[op]!
    const values = this.batchValues[op]!
    const next = state.values.slice()
    let hash = state.hash
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      hash ^= cellHash(key, next[key]!) ^ cellHash(key, values[i]!)
      next[key] = values[i]!
    }
    return { values: next, hash }
  }

  private compile(i: number, op: KvOperation, keyIndex: ReadonlyMap<string, number>): void {
    const { input, output } = op
    switch (input.op) {
      case 'get':
        // partitionByKey drops gets whose answer never arrived: they constrain nothing.
        assert(output.type === 'value', 'a get without a value reached the model')
        this.kind[i] = GET
        this.key[i] = keyIndex.get(input.key)!
        this.argument[i] = output.value === null ? ABSENT : this.values.id(output.value)
        return
      case 'put':
      case 'append':
        this.kind[i] = input.op === 'put' ? PUT : APPEND
        this.key[i] = keyIndex.get(input.key)!
        this.argument[i] = this.values.id(input.value)
        return
      case 'delete':
        this.kind[i] = DELETE
        this.key[i] = keyIndex.get(input.key)!
        this.argument[i] = output.type === 'deleted' ? (output.existed ? 1 : 0) : EXISTED_UNKNOWN
        return
      case 'batchPut':
        this.kind[i] = BATCH_PUT
        this.batchKeys[i] = Int32Array.from(input.entries, ([key]) => keyIndex.get(key)!)
        this.batchValues[i] = Int32Array.from(input.entries, ([, value]) => this.values.id(value))
        return
      default:
        unreachable(input, 'input')
    }
  }
}

function withValue(state: ModelState, key: number, value: number): ModelState {
  const old = state.values[key]!
  if (old === value) return state
  const values = state.values.slice()
  values[key] = value
  return { values, hash: state.hash ^ cellHash(key, old) ^ cellHash(key, value) }
}

function hashValues(values: readonly number[]): number {
  let hash = 0
  for (let key = 0; key < values.length; key++) hash ^= cellHash(key, values[key]!)
  return hash
}

/** Whether two states hold the same values (equal hashes are checked first by the caller). */
export function sameState(a: ModelState, b: ModelState): boolean {
  if (a === b) return true
  if (a.hash !== b.hash) return false
  for (let i = 0; i < a.values.length; i++) if (a.values[i] !== b.values[i]) return false
  return true
}
