import { buildEvents } from './events.js'
import { explainDeadEnd } from './explain.js'
import { KvModel } from './model.js'
import type { Partition } from './partition.js'
import { LinearizationSearch, type DeadEnd, type SearchBudget } from './search.js'
import type { KvInput, KvOperation } from './types.js'

/**
 * For a partition of several keys: each key's own history, with batchPuts cut down to
 * their put of that key. If the partition is linearizable, so is every projection (drop
 * the other keys from its linearization), so a projection that is not is a violation,
 * found fast and explained on one key.
 *
 * When all projections pass, their linearizations are hints for the joint search: the
 * order each key's ops took there is usually the order they need jointly. Without them
 * the search places two concurrent writes of a key in the wrong order, learns it only
 * at a read many ops later, and backtracks through every key in between.
 */
export type ProjectionOutcome =
  /** By op: its position in the projection of each of its keys (aligned with model.keysOfOp), -1 when left out. */
  | { readonly type: 'hints'; readonly positions: readonly Int32Array[] }
  | { readonly type: 'illegal'; readonly key: string; readonly ops: readonly KvOperation[]; readonly explanation: string }
  | { readonly type: 'outOfSteps' }
  | { readonly type: 'inconclusive'; readonly reason: string }

export function projectOnKeys(partition: Partition, model: KvModel, budget: SearchBudget): ProjectionOutcome {
  const positions = partition.ops.map((_, op) => new Int32Array(model.keysOfOp[op]!.length).fill(-1))
  for (let keyIndex = 0; keyIndex < partition.keys.length; keyIndex++) {
    const key = partition.keys[keyIndex]!
    const original: number[] = []
    partition.ops.forEach((_, op) => {
      if (model.keysOfOp[op]!.includes(keyIndex)) original.push(op)
    })
    const projection: Partition = { keys: [key], ops: original.map((op) => projectOp(partition.ops[op]!, key)) }
    const projectionModel = new KvModel(projection)
    const search = new LinearizationSearch(projectionModel, buildEvents(projection.ops), projection.ops.length, budget)
    const outcome = search.run()
    if (outcome.type === 'outOfSteps' || outcome.type === 'inconclusive') return outcome
    if (outcome.type === 'illegal') return illegalProjection(partition, projection, projectionModel, original, outcome.deadEnd)
    search.linearization().forEach((projected, position) => {
      const op = original[projected]!
      const keys = model.keysOfOp[op]!
      for (let slot = 0; slot < keys.length; slot++) if (keys[slot] === keyIndex) positions[op]![slot] = position
    })
  }
  return { type: 'hints', positions }
}

/** The op as seen by one key: a batchPut becomes its last put of that key. */
function projectOp(op: KvOperation, key: string): KvOperation {
  if (op.input.op !== 'batchPut') return op
  const entry = op.input.entries.findLast(([k]) => k === key)!
  const input: KvInput = { op: 'put', key, value: entry[1] }
  return { ...op, input }
}

function illegalProjection(
  partition: Partition,
  projection: Partition,
  projectionModel: KvModel,
  original: readonly number[],
  deadEnd: DeadEnd,
): ProjectionOutcome {
  const key = projection.keys[0]!
  const explanation = explainDeadEnd(projection, projectionModel, deadEnd)
  return {
    type: 'illegal',
    key,
    ops: original.map((op) => partition.ops[op]!),
    explanation: `${explanation} (batchPuts shown as their put of ${key})`,
  }
}
