/**
 * The history format the checker reads: one record per client operation, with the times the
 * call was made and the answer arrived on one clock (virtual ticks in the simulator,
 * milliseconds in real tests).
 */

export type KvInput =
  | { op: 'get'; key: string }
  | { op: 'put'; key: string; value: string }
  | { op: 'delete'; key: string }
  | { op: 'append'; key: string; value: string }
  /** An atomic multi-key put. */
  | { op: 'batchPut'; entries: ReadonlyArray<readonly [string, string]> }

export type KvOutput =
  /** The answer to a get: null means not found. */
  | { type: 'value'; value: string | null }
  /** The answer to a delete: whether the key existed. */
  | { type: 'deleted'; existed: boolean }
  /** The answer to a put, an append or a batchPut. */
  | { type: 'ok' }
  /** The client never learned the outcome (timeout, lost connection). */
  | { type: 'unknown' }

export interface KvOperation {
  clientId: number
  input: KvInput
  /** The time the call was made. */
  call: number
  /** The time the answer arrived; Infinity when the output is 'unknown'. */
  return: number
  output: KvOutput
}

export type CheckResult =
  | { result: 'ok' }
  /** `ops` is the partition that failed, sorted by call time; `key` its first key. */
  | { result: 'illegal'; key: string; ops: KvOperation[]; explanation: string }
  /** The time budget ran out before a verdict. */
  | { result: 'unknown'; reason: string }

export interface CheckOptions {
  /** Wall-clock budget for the whole check; past it the verdict is 'unknown'. */
  timeBudgetMs?: number
  /** The clock the budget is measured on, in milliseconds. Defaults to performance.now. */
  now?: () => number
}
