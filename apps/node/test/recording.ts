/**
 * A client that records every call into a `HistoryRecorder` (with `performance.now()` times),
 * and the assertion that a history is linearizable.
 */
import { BadRequestError, KvError, PartialBatchError, type KvClient } from '@kv/client'
import { checkLinearizability, describeHistory, HistoryRecorder, type CheckOptions, type KvInput, type KvOperation, type KvOutput } from '@kv/sim'
import { expect } from 'vitest'

/** What a call ended as: recorded in the history as a known answer, an unknown outcome, or not at all. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown }

/** Errors after which a write may or may not have been applied. Only BAD_REQUEST is known not applied. */
function isUnknownOutcome(e: unknown): boolean {
  return !(e instanceof BadRequestError)
}

/**
 * Wraps a client: every call goes into the history with `performance.now()` times. A call is
 * recorded when it ends, with the time it began: a write that failed with anything but
 * BadRequestError is recorded as unknown (it may have been applied); a read that failed, or
 * a BadRequestError, is left out (it changed nothing).
 */
export class RecordingClient {
  constructor(
    readonly client: KvClient,
    readonly history: HistoryRecorder,
    readonly clientId: number,
  ) {}

  async #call<T>(input: KvInput, run: () => Promise<T>, output: (v: T) => KvOutput): Promise<T> {
    const start = performance.now()
    try {
      const v = await run()
      const end = performance.now()
      this.history.complete(this.history.invoke(this.clientId, input, start), output(v), end)
      return v
    } catch (e) {
      if (input.op !== 'get' && isUnknownOutcome(e)) this.history.completeUnknown(this.history.invoke(this.clientId, input, start))
      throw e
    }
  }

  get(key: string, timeoutMs?: number): Promise<string | null> {
    return this.#call({ op: 'get', key }, () => this.client.getString(key, opts(timeoutMs)), (value) => ({ type: 'value', value }))
  }

  put(key: string, value: string, timeoutMs?: number): Promise<void> {
    return this.#call({ op: 'put', key, value }, () => this.client.put(key, value, opts(timeoutMs)), () => ({ type: 'ok' }))
  }

  append(key: string, value: string, timeoutMs?: number): Promise<void> {
    return this.#call({ op: 'append', key, value }, () => this.client.append(key, value, opts(timeoutMs)), () => ({ type: 'ok' }))
  }

  delete(key: string, timeoutMs?: number): Promise<boolean> {
    return this.#call({ op: 'delete', key }, () => this.client.delete(key, opts(timeoutMs)), (existed) => ({ type: 'deleted', existed }))
  }

  batchPut(entries: ReadonlyArray<readonly [string, string]>, timeoutMs?: number): Promise<void> {
    const copy = entries.map(([k, v]) => [k, v] as const)
    return this.#call({ op: 'batchPut', entries: copy }, () => this.client.batchPut(copy.map(([k, v]) => [k, v]), opts(timeoutMs)), () => ({ type: 'ok' }))
  }
}

/**
 * A batchPut that may span shard groups: only each group's part is atomic, so the history gets
 * each key as its own put (sound whatever the split: an atomic part is linearizable key by key).
 * On a PartialBatchError, the keys of applied parts are known written, the others unknown.
 */
export async function recordSpreadBatch(rc: RecordingClient, entries: ReadonlyArray<readonly [string, string]>, timeoutMs?: number): Promise<void> {
  const start = performance.now()
  const { history, clientId } = rc
  try {
    await rc.client.batchPut(entries.map(([k, v]) => [k, v]), opts(timeoutMs))
    const end = performance.now()
    for (const [key, value] of entries) history.complete(history.invoke(clientId, { op: 'put', key, value }, start), { type: 'ok' }, end)
  } catch (e) {
    const end = performance.now()
    const applied = new Set(e instanceof PartialBatchError ? e.parts.filter((p) => p.outcome === 'applied').flatMap((p) => p.keys) : [])
    for (const [key, value] of entries) {
      const input = { op: 'put', key, value } as const
      if (applied.has(key)) history.complete(history.invoke(clientId, input, start), { type: 'ok' }, end)
      else if (isUnknownOutcome(e)) history.completeUnknown(history.invoke(clientId, input, start))
    }
    throw e
  }
}

function opts(timeoutMs: number | undefined): { timeoutMs?: number } {
  return timeoutMs === undefined ? {} : { timeoutMs }
}

/** Runs a call and keeps its error instead of throwing (the history has it already). */
export async function attempt<T>(p: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await p }
  } catch (error) {
    return { ok: false, error }
  }
}

export function errorCode(e: unknown): string {
  return e instanceof KvError ? e.code : e instanceof Error ? e.name : String(e)
}

/** Asserts the history is linearizable (a definite `ok`, not `unknown`). */
export function expectLinearizable(history: HistoryRecorder | readonly KvOperation[], options: CheckOptions = {}): void {
  const ops = history instanceof HistoryRecorder ? history.operations() : history
  expect(ops.length).toBeGreaterThan(0)
  const r = checkLinearizability(ops, options)
  if (r.result === 'illegal') {
    expect.fail(`history is not linearizable (key ${r.key}): ${r.explanation}\n${describeHistory(r.ops)}`)
  }
  if (r.result === 'unknown') expect.fail(`linearizability check gave no verdict: ${r.reason}`)
  expect(r.result).toBe('ok')
}
