import { unreachable } from '@kv/consensus'
import type { KvInput, KvOperation, KvOutput } from './types.js'

/**
 * A history the checker cannot read (a recorder bug, not a linearizability violation):
 * times out of order or an output that cannot answer its input.
 */
export class HistoryError extends Error {
  readonly code = 'INVALID_HISTORY'
  constructor(
    message: string,
    readonly operationIndex: number,
  ) {
    super(message)
    this.name = 'HistoryError'
  }
}

/** The gateway of the checker: past it, the search asserts instead of checking. */
export function validateHistory(history: readonly KvOperation[]): void {
  for (let i = 0; i < history.length; i++) {
    const reason = invalidReason(history[i]!)
    if (reason !== null) throw new HistoryError(`operation ${i}: ${reason}`, i)
  }
}

function invalidReason(op: KvOperation): string | null {
  if (!Number.isFinite(op.call)) return `call time ${op.call} is not a finite number`
  if (op.output.type !== 'unknown') {
    if (Number.isNaN(op.return)) return 'return time is NaN'
    if (op.return < op.call) return `returned at ${op.return} before its call at ${op.call}`
  }
  if (!outputAnswers(op.input, op.output)) {
    return `output '${op.output.type}' cannot answer a ${op.input.op}`
  }
  return null
}

function outputAnswers(input: KvInput, output: KvOutput): boolean {
  if (output.type === 'unknown') return true
  switch (input.op) {
    case 'get':
      return output.type === 'value'
    case 'delete':
      return output.type === 'deleted'
    case 'put':
    case 'append':
    case 'batchPut':
      return output.type === 'ok'
    default:
      return unreachable(input, 'input')
  }
}
