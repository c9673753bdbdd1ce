import type { GroupMessage } from '../group-message.js'
import { isChunk, isChunkFloors, type MoveChunk } from '../log-record.js'

/** The gainer asks the loser for the chunk of moved keys starting at `cursor`. */
export interface SendKeysRequest extends GroupMessage {
  readonly type: 'SendKeysRequest'
  readonly epoch: number
  readonly cursor: number
}

/** One bounded chunk of the move's stream (see `MoveChunk`). */
export interface SendKeysResponse extends GroupMessage, MoveChunk {
  readonly type: 'SendKeysResponse'
}

/** The gainer has the keys (SHARD_READY applied): the loser may delete them. Repeated until acknowledged. */
export interface KeysLearned extends GroupMessage {
  readonly type: 'KeysLearned'
  readonly epoch: number
}

/** The loser deleted them (KEYS_LEARNED applied), or had already. */
export interface KeysLearnedAck extends GroupMessage {
  readonly type: 'KeysLearnedAck'
  readonly epoch: number
}

export type MigrationMessage = SendKeysRequest | SendKeysResponse | KeysLearned | KeysLearnedAck

const isCount = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0

/** The gateway for migration traffic: a malformed message is dropped, never trusted. */
export function asMigrationMessage(m: GroupMessage): MigrationMessage | null {
  const r = m as Partial<SendKeysResponse> & { epoch?: unknown }
  if (!isCount(r.epoch)) return null
  switch (m.type) {
    case 'SendKeysRequest':
      return isCount(r.cursor) ? (m as SendKeysRequest) : null
    case 'SendKeysResponse': {
      const ok = isCount(r.cursor) && isCount(r.next) && typeof r.done === 'boolean' && isChunk(r.entries, r.sessions) && isChunkFloors(r.floors, r.bucketFloors)
      return ok ? (m as SendKeysResponse) : null
    }
    case 'KeysLearned':
    case 'KeysLearnedAck':
      return m as KeysLearned | KeysLearnedAck
    default:
      return null
  }
}
