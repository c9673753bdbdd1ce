import { sortByCall } from './describe.js'
import { buildEvents } from './events.js'
import { explainDeadEnd } from './explain.js'
import { projectOnKeys } from './hints.js'
import { defaultMaxSearchSteps } from './limits.js'
import { KvModel } from './model.js'
import { partitionByKey, type Partition } from './partition.js'
import { LinearizationSearch, type SearchBudget, type SearchOutcome } from './search.js'
import type { CheckOptions, CheckResult, CheckVerdict, KvOperation } from './types.js'
import { validateHistory } from './validate.js'

/**
 * Whether a history of the key-value store is linearizable: whether its ops can be put in
 * one order that respects real time (an op that returned before another was called comes
 * first) and in which every recorded answer is what a single map would have given.
 *
 * Never answers 'ok' unless it is sure: out of search steps, the answer is 'unknown'. The
 * budget is counted in steps, not time, so a history's verdict (and `searchSteps`) is the
 * same on every machine. Throws HistoryError when the history is malformed (see
 * validateHistory), RangeError for a budget that is not a non-negative integer.
 */
export function checkLinearizability(history: readonly KvOperation[], options: CheckOptions = {}): CheckResult {
  validateHistory(history)
  const maxSteps = options.maxSearchSteps ?? defaultMaxSearchSteps
  if (!Number.isSafeInteger(maxSteps) || maxSteps < 0) {
    throw new RangeError(`maxSearchSteps must be a non-negative integer, got ${maxSteps}`)
  }
  const budget: SearchBudget = { maxSteps, used: 0 }
  const verdict = checkPartitions(history, budget)
  return { ...verdict, searchSteps: budget.used }
}

function checkPartitions(history: readonly KvOperation[], budget: SearchBudget): CheckVerdict {
  const partitions = partitionByKey(history)
  for (let i = 0; i < partitions.length; i++) {
    const outcome = checkPartition(partitions[i]!, budget)
    switch (outcome.type) {
      case 'linearizable':
        continue
      case 'outOfSteps':
        return outOfSteps(budget.maxSteps, i, partitions.length)
      case 'inconclusive':
        return { result: 'unknown', reason: `partition ${i + 1} of ${partitions.length}: ${outcome.reason}` }
      case 'illegal':
        return { result: 'illegal', key: outcome.key, ops: sortByCall(outcome.ops), explanation: outcome.explanation }
      default:
        return outcome satisfies never
    }
  }
  return { result: 'ok' }
}

type PartitionOutcome =
  | Exclude<SearchOutcome, { type: 'illegal' }>
  | { type: 'illegal'; key: string; ops: readonly KvOperation[]; explanation: string }

function checkPartition(partition: Partition, budget: SearchBudget): PartitionOutcome {
  // Writes alone always linearize (in any real-time order): only answers can contradict.
  if (!partition.ops.some(hasConstrainingAnswer)) return { type: 'linearizable' }
  const model = new KvModel(partition)
  let hints: readonly Int32Array[] | null = null
  if (partition.keys.length > 1) {
    const projected = projectOnKeys(partition, model, budget)
    if (projected.type !== 'hints') return projected
    hints = projected.positions
  }
  const search = new LinearizationSearch(model, buildEvents(partition.ops), partition.ops.length, budget, hints)
  const outcome = search.run()
  if (outcome.type !== 'illegal') return outcome
  const explanation = explainDeadEnd(partition, model, outcome.deadEnd)
  return { type: 'illegal', key: partition.keys[0]!, ops: partition.ops, explanation }
}

function hasConstrainingAnswer(op: KvOperation): boolean {
  return op.output.type === 'value' || op.output.type === 'deleted'
}

function outOfSteps(maxSteps: number, partition: number, partitions: number): CheckVerdict {
  return {
    result: 'unknown',
    reason: `the budget of ${maxSteps} search steps ran out checking partition ${partition + 1} of ${partitions} (the earlier ones are linearizable)`,
  }
}

