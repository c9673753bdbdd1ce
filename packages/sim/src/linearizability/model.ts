import { assert, unreachable } from '@kv/consensus'
import { PendingAppends } from './appends.js'
import { cellHash, pendingHash } from './hash.js'
import type { Partition } from './partition.js'
import type { KvOperation } from './types.js'
import { ABSENT, ValueTable } from './values.js'

/**
 * The sequential specification of one partition: a map from the partition's keys to
 * values, where the appends to a key since it was last observed are a set, not a sequence
 * (see appends.ts): the key holds its observed value followed by them in an order that
 * the next read chooses. States are immutable; a step that changes nothing returns the
 * same object, so the cache's equality check usually ends at the reference.
 */
export interface ModelState {
  /** By key index: the value id last observed or written, or ABSENT. */
  readonly values: readonly number[]
  /** By key index: the appends (op indices, ascending) since, in no order yet. */
  readonly pending: readonly (readonly number[])[]
  /** XOR of cellHash(key, value) over all keys and pendingHash(op) over all pending appends. */
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
const noPending: readonly number[] = []

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
  private readonly appends: PendingAppends

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
    this.initial = { values: empty, pending: partition.keys.map(() => noPending), hash: hashValues(empty) }
    const callOfOp = Float64Array.from(partition.ops, (op) => op.call)
    const returnOfOp = Float64Array.from(partition.ops, (op) => (op.output.type === 'unknown' ? Infinity : op.return))
    this.appends = new PendingAppends(this.values, this.argument, callOfOp, returnOfOp)
  }

  /**
   * Whether some read ran out of steps matching pending appends and was taken as illegal
   * without proof: the search may then answer 'linearizable' but not 'illegal'.
   */
  get gaveUp(): boolean {
    return this.appends.gaveUp
  }

  get keyCount(): number {
    return this.partition.keys.length
  }

  /**
   * Whether `op` is legal in `state` and leaves it unchanged however the search goes on:
   * a get of a key with no pending appends, or a delete known to have found nothing. (A
   * put of the current value is not: elsewhere it changes things. Nor is a get that fixes
   * the order of pending appends: a later read may need another order.)
   */
  isLegalRead(op: number, state: ModelState): boolean {
    const kind = this.kind[op]
    if (kind !== GET && !(kind === DELETE && this.argument[op] === 0)) return false
    return this.step(op, state) === state
  }

  /** The state after `op`, or null when its recorded output is not what the model answers. */
  step(op: number, state: ModelState): ModelState | null {
    switch (this.kind[op]!) {
      case GET:
        return this.stepGet(op, state)
      case PUT:
        return withValue(state, this.key[op]!, this.argument[op]!)
      case DELETE:
        return this.stepDelete(op, state)
      case APPEND:
        return withPending(state, this.key[op]!, op)
      default:
        return this.stepBatchPut(op, state)
    }
  }

  /**
   * The state as text for explanations: `{a="1", b=absent}`; pending appends follow their
   * key's value, `a="1"+any order of ["x", "y"]`.
   */
  describeState(state: ModelState): string {
    const cells = this.partition.keys.map((key, index) => {
      const text = this.values.text(state.values[index]!)
      const pending = state.pending[index]!
      if (pending.length === 0) return `${key}=${text === null ? 'absent' : JSON.stringify(text)}`
      const appended = pending.map((op) => JSON.stringify(this.values.text(this.argument[op]!)))
      return `${key}=${text === null ? '' : `${JSON.stringify(text)}+`}any order of [${appended.join(', ')}]`
    })
    return `{${cells.join(', ')}}`
  }

  /** A read fixes the order of its key's pending appends: the value it saw is now observed. */
  private stepGet(op: number, state: ModelState): ModelState | null {
    const key = this.key[op]!
    const read = this.argument[op]!
    const pending = state.pending[key]!
    if (pending.length === 0) return state.values[key] === read ? state : null
    if (read === ABSENT || !this.appends.matches(state.values[key]!, read, pending)) return null
    return withValue(state, key, read)
  }

  private stepDelete(op: number, state: ModelState): ModelState | null {
    const key = this.key[op]!
    // An append to an absent key makes it present, whatever the order.
    const existed = state.values[key] !== ABSENT || state.pending[key]!.length > 0
    const expected = this.argument[op]
    if (expected !== EXISTED_UNKNOWN && expected !== (existed ? 1 : 0)) return null
    return existed ? withValue(state, key, ABSENT) : state
  }

  /** Each key written gets its value and loses its pending appends, unobserved. */
  private stepBatchPut(op: number, state: ModelState): ModelState {
    const keys = this.batchKeys[op]!
    const values = this.batchValues[op]!
    let next = state
    for (let i = 0; i < keys.length; i++) next = withValue(next, keys[i]!, values[i]!)
    return next
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

/** The state with `key` holding `value` and no pending appends. */
function withValue(state: ModelState, key: number, value: number): ModelState {
  const old = state.values[key]!
  const oldPending = state.pending[key]!
  if (old === value && oldPending.length === 0) return state
  let hash = state.hash ^ cellHash(key, old) ^ cellHash(key, value)
  for (const op of oldPending) hash ^= pendingHash(op)
  const values = state.values.slice()
  values[key] = value
  if (oldPending.length === 0) return { values, pending: state.pending, hash }
  const pending = state.pending.slice()
  pending[key] = noPending
  return { values, pending, hash }
}

/** The state with append `op` added to its key's pending set, kept in ascending op order. */
function withPending(state: ModelState, key: number, op: number): ModelState {
  const old = state.pending[key]!
  let at = old.length
  while (at > 0 && old[at - 1]! > op) at--
  const set = [...old.slice(0, at), op, ...old.slice(at)]
  const pending = state.pending.slice()
  pending[key] = set
  return { values: state.values, pending, hash: state.hash ^ pendingHash(op) }
}

function hashValues(values: readonly number[]): number {
  let hash = 0
  for (let key = 0; key < values.length; key++) hash ^= cellHash(key, values[key]!)
  return hash
}

/**
 * Whether two states hold the same values and pending sets. Pending sets are kept sorted,
 * so two orders of the same appends compare equal.
 */
export function sameState(a: ModelState, b: ModelState): boolean {
  if (a === b) return true
  if (a.hash !== b.hash) return false
  for (let i = 0; i < a.values.length; i++) {
    if (a.values[i] !== b.values[i]) return false
    const pa = a.pending[i]!
    const pb = b.pending[i]!
    if (pa === pb) continue
    if (pa.length !== pb.length) return false
    for (let j = 0; j < pa.length; j++) if (pa[j] !== pb[j]) return false
  }
  return true
}
