import { unreachable } from '@kv/consensus'
import { maxDescribedValueChars } from './limits.js'
import type { KvInput, KvOperation, KvOutput } from './types.js'

/**
 * A compact rendering of a partition's ops for failure messages, one per line, sorted by
 * call time:
 *
 *     [   12,    40] c3 put a="1" → ok
 *     [   15,     ∞] c1 append a+="x" → unknown
 */
export function describeHistory(ops: readonly KvOperation[]): string {
  const sorted = sortByCall(ops)
  const width = Math.max(1, ...sorted.flatMap((op) => [formatTime(op.call).length, formatTime(op.return).length]))
  return sorted
    .map((op) => `[${formatTime(op.call).padStart(width)}, ${formatTime(op.return).padStart(width)}] ${describeOperation(op)}`)
    .join('\n')
}

/** One op without its times: `c3 get a → "0"`. */
export function describeOperation(op: KvOperation): string {
  return `c${op.clientId} ${describeInput(op.input)} → ${describeOutput(op.output)}`
}

/** One op with its times: `c3 get a → "0" [20, 30]`. */
export function describeTimedOperation(op: KvOperation): string {
  return `${describeOperation(op)} [${formatTime(op.call)}, ${formatTime(op.return)}]`
}

/** Stable: ops called at the same time keep their history order. */
export function sortByCall(ops: readonly KvOperation[]): KvOperation[] {
  return [...ops].sort((a, b) => a.call - b.call)
}

function describeInput(input: KvInput): string {
  switch (input.op) {
    case 'get':
      return `get ${input.key}`
    case 'put':
      return `put ${input.key}=${quote(input.value)}`
    case 'delete':
      return `delete ${input.key}`
    case 'append':
      return `append ${input.key}+=${quote(input.value)}`
    case 'batchPut':
      return `batchPut {${input.entries.map(([key, value]) => `${key}=${quote(value)}`).join(', ')}}`
    default:
      return unreachable(input, 'input')
  }
}

function describeOutput(output: KvOutput): string {
  switch (output.type) {
    case 'value':
      return output.value === null ? 'null' : quote(output.value)
    case 'deleted':
      return output.existed ? 'existed' : 'absent'
    case 'ok':
      return 'ok'
    case 'unknown':
      return 'unknown'
    default:
      return unreachable(output, 'output')
  }
}

function formatTime(time: number): string {
  return time === Infinity ? '∞' : String(time)
}

/** A value in quotes, its middle elided when long: appends build long values. */
export function quote(value: string): string {
  if (value.length <= maxDescribedValueChars) return JSON.stringify(value)
  const half = Math.floor(maxDescribedValueChars / 2)
  return `${JSON.stringify(value.slice(0, half))}…${JSON.stringify(value.slice(-half))} (${value.length} chars)`
}
