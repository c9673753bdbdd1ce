import { checkShardMap, type ShardMap } from '@kv/protocol'
import type { GroupMessage } from '../group-message.js'

/** A group asks the controller for the shard map at `epoch` (its current epoch + 1, as it applies maps in order). */
export interface ShardMapQuery extends GroupMessage {
  readonly type: 'ShardMapQuery'
  readonly epoch: number
}

/** The answer: the map at the asked epoch, or null when the controller replica has none yet. */
export interface ShardMapReply extends GroupMessage {
  readonly type: 'ShardMapReply'
  readonly epoch: number
  readonly map: ShardMap | null
}

export function isShardMapQuery(m: GroupMessage): m is ShardMapQuery {
  const e = (m as Partial<ShardMapQuery>).epoch
  return m.type === 'ShardMapQuery' && typeof e === 'number' && Number.isSafeInteger(e) && e >= 1
}

export function isShardMapReply(m: GroupMessage): m is ShardMapReply {
  const r = m as Partial<ShardMapReply>
  return m.type === 'ShardMapReply' && typeof r.epoch === 'number' && (r.map === null || (checkShardMap(r.map) && r.map.epoch === r.epoch))
}
