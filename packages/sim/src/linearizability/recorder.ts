import { assert } from '@kv/consensus'
import type { KvInput, KvOperation, KvOutput } from './types.js'

interface Pending {
  readonly clientId: number
  readonly input: KvInput
  readonly call: number
  outcome: { readonly output: KvOutput; readonly return: number } | null
}

/**
 * Collects a history as the clients see it: `invoke` when a request is sent, `complete`
 * when its answer arrives, `completeUnknown` when the client gives up on it (a timeout, a
 * lost connection). Ops the client knows did not take effect should not be recorded.
 */
export class HistoryRecorder {
  private readonly ops: Pending[] = []

  /** Records a call; the returned id names the op to `complete`. */
  invoke(clientId: number, input: KvInput, time: number): number {
    assert(Number.isFinite(time), () => `call time ${time} is not finite`)
    this.ops.push({ clientId, input, call: time, outcome: null })
    return this.ops.length - 1
  }

  complete(opId: number, output: KvOutput, time: number): void {
    const op = this.pendingOp(opId)
    if (output.type === 'unknown') {
      op.outcome = { output, return: Infinity }
      return
    }
    assert(time >= op.call, () => `op ${opId} completed at ${time}, before its call at ${op.call}`)
    op.outcome = { output, return: time }
  }

  /** The client will never learn the outcome: the op may take effect at any later time, or never. */
  completeUnknown(opId: number): void {
    this.pendingOp(opId).outcome = { output: { type: 'unknown' }, return: Infinity }
  }

  /** The history so far, in invocation order; ops still pending count as unknown. */
  operations(): KvOperation[] {
    return this.ops.map(({ clientId, input, call, outcome }) => ({
      clientId,
      input,
      call,
      return: outcome?.return ?? Infinity,
      output: outcome?.output ?? { type: 'unknown' },
    }))
  }

  private pendingOp(opId: number): Pending {
    const op = this.ops[opId]
    assert(op !== undefined, () => `no op with id ${opId}`)
    assert(op.outcome === null, () => `op ${opId} was already completed`)
    return op
  }
}
