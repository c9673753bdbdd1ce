export type {
  AnyClientRequest,
  ClientRequest,
  ClientResponse,
  ErrorCode,
  KvOp,
  OpResult,
  ReplicaStatus,
  StatusRequest,
  WriteOp,
} from './types.js'
export { checkWriteOpShape, parseClientRequest, type ParseResult } from './parse.js'
export { limits } from './limits.js'
export {
  allGroups,
  clusterSpecSchema,
  groupSpecSchema,
  ClusterSpecError,
  endpointKey,
  groupOfReplica,
  initialShardMap,
  layoutCluster,
  listenAddress,
  parseClusterSpec,
  parseHostPort,
  type ClusterSpec,
  type ClusterSpecInput,
  type GroupSpec,
  type LayoutOptions,
  type ReplicaSpec,
} from './cluster-spec.js'
export { mapTlsPaths, tlsFileFields, tlsPathFor, tlsSpecSchema, type TlsSpec } from './tls-spec.js'
export { backoffMs, CallRound, ReplicaGroup, ShardRouter, type AttemptVerdict } from './routing/index.js'
export {
  checkControllerOp,
  checkControllerWriteShape,
  checkShardMap,
  parseControllerRequest,
  type ControllerOp,
  type ControllerRequest,
  type ControllerWriteOp,
  type ShardMap,
} from './shard-map.js'
