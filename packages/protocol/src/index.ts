export type {
  AnyClientRequest,
  ClientRequest,
  ClientResponse,
  ErrorCode,
  KvOp,
  OpResult,
  ReadOp,
  ReplicaStatus,
  ScanOp,
  StatusRequest,
  MemberRequest,
  MembersResponse,
  WatchEvent,
  WatchOp,
  WriteOp,
} from './types.js'
export { compareRevisions, formatRevision, isWireRevision, maxRevision, minRevision, parseRevision, type WireRevision } from './revision.js'
export { prefixEnd } from './key-range.js'
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
  replicaSpecSchema,
  type ClusterSpec,
  type ClusterSpecInput,
  type GroupSpec,
  type LayoutOptions,
  type ReplicaSpec,
} from './cluster-spec.js'
export { mapTlsPaths, tlsFileFields, tlsPathFor, tlsSpecSchema, type TlsSpec } from './tls-spec.js'
export { backoffMs, CallRound, parseCursor, ReplicaGroup, ShardRouter, WatchMerge, type AttemptVerdict, type MergedEvent, type StreamAnswer } from './routing/index.js'
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
export {
  clusterTopology,
  clusterTopologySchema,
  isDiscoverRequest,
  parseClusterTopology,
  topologyGroups,
  type ClusterTopology,
  type DiscoverRequest,
  type TopologyGroup,
} from './topology.js'
