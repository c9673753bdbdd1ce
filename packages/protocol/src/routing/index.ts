export { backoffMs } from '@kv/consensus'
export { CallRound, type AttemptVerdict } from './call-round.js'
export { ReplicaGroup } from './replica-group.js'
export { ShardRouter } from './shard-router.js'
