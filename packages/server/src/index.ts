export { Replica, type Reply, type OpOf, type ReplicaOptions, type SessionRequest } from './replica.js'
export type { ReplicaEnv } from './env.js'
export type { MirroredStateMachine, OpClass, StateMachine, TableChanges } from './state-machine.js'
export { KvStateMachine, kvTables, type KvMachineOptions, type Sharding } from './kv/kv-machine.js'
export { ShardState, type MigrationEvent, type ShardImage } from './kv/shards.js'
export { defaultMigrationLimits, type MigrationLimits } from './kv/migration-driver.js'
export { SessionTable, type EncodedSession, type SessionAnswer, type SessionLimits } from './session.js'
export {
  currentRecordVersion,
  decodeRecord,
  encodeRecord,
  LogRecordError,
  type Command,
  type ControllerInitRecord,
  type ControllerRecord,
  type MigrationRecord,
  type MigrationStep,
  type KvRecord,
  type LogRecord,
  type RecordKind,
} from './log-record.js'
export { defaultReplicaLimits, checkReplicaLimits, type ReplicaLimits } from './limits.js'
export { isGroupMessage, type GroupMessage, type MachineContext, type OutgoingGroupMessage } from './group-message.js'
export { ControllerMachine, controllerTables, type ControllerMachineOptions } from './controller/controller-machine.js'
export { isShardMapQuery, isShardMapReply, type ShardMapQuery, type ShardMapReply } from './controller/messages.js'
export { createGroupMachine, groupKind, parseGroupRequest, type GroupKind, type GroupMachine, type GroupMachineOptions, type GroupRequestParse } from './group-machine.js'
