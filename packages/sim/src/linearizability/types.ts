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

/** The verdict, and the search steps it took (the same for a given history and budget). */
export type CheckResult = CheckVerdict & {
  /** Search steps spent over the whole check (see CheckOptions.maxSearchSteps). */
  searchSteps: number
}

export type CheckVerdict =
  | { result: 'ok' }
  /** `ops` is the partition that failed, sorted by call time; `key` its first key. */
  | { result: 'illegal'; key: string; ops: KvOperation[]; explanation: string }
  /** The step budget ran out, or the model gave up on a step, before a verdict. */
  | { result: 'unknown'; reason: string }

export interface CheckOptions {
  /**
   * The budget of the whole check in search steps (one candidate op tried, or one
   * backtrack); past it the verdict is 'unknown', never 'ok'. A count, not a time, so the
   * verdict of a history never depends on the machine. Default: defaultMaxSearchSteps.
   */
  maxSearchSteps?: number
}
