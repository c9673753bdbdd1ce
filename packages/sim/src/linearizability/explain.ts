import { describeOperation, describeTimedOperation } from './describe.js'
import type { KvModel } from './model.js'
import type { Partition } from './partition.js'
import type { DeadEnd } from './search.js'

/** How many ops of the longest linearizable prefix an explanation lists (the last ones). */
const maxExplainedPrefixOps = 6

/**
 * Why a partition is not linearizable, from where the search got furthest: the longest
 * prefix it could linearize, the state after it, and the op that had to take effect next
 * and could not.
 */
export function explainDeadEnd(partition: Partition, model: KvModel, deadEnd: DeadEnd): string {
  const { ops, keys } = partition
  const blocked = ops[deadEnd.blockedOp]!
  const prefix = deadEnd.prefix.map((op) => describeOperation(ops[op]!))
  const shown = prefix.slice(-maxExplainedPrefixOps)
  const elided = prefix.length > shown.length ? `…${prefix.length - shown.length} earlier, ` : ''
  const prefixText = prefix.length === 0 ? 'no op can be linearized first' : `the longest linearizable prefix has ${prefix.length} of ${ops.length} ops (${elided}${shown.join('; ')})`
  return [
    `no linearization of the ${ops.length} ops on ${keys.length === 1 ? 'key' : 'keys'} ${keys.join(', ')}:`,
    `${prefixText}, leaving ${model.describeState(deadEnd.state)};`,
    `then ${describeTimedOperation(blocked)} must take effect before it returns, and no pending op can be placed next`,
  ].join(' ')
}
