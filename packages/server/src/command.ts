import { Packr } from 'msgpackr'
import type { WriteOp } from '@kv/protocol'

/** One client write as it sits in the log. */
export interface Command {
  readonly clientId: string
  readonly seq: number
  readonly ackedSeq: number
  readonly op: WriteOp
}

/**
 * The payload of one log entry: a batch of client writes, stamped with the leader's clock.
 * The stamp is the only time the state machine ever sees, so session expiry is the same on
 * every replica.
 */
export interface CommandBatch {
  readonly timeMs: number
  readonly commands: readonly Command[]
}

// A fixed encoding: every replica must decode what any other replica wrote, so no
// shared structures are used here (they would live in one process's memory only).
const packr = new Packr({ useRecords: false, moreTypes: false })

export function encodeBatch(batch: CommandBatch): Uint8Array {
  return packr.pack(batch)
}

export function decodeBatch(data: Uint8Array): CommandBatch {
  return packr.unpack(data) as CommandBatch
}
