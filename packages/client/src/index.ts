export { createClient, KvClient, type CallOptions, type GetOptions } from './client.js'
export { mergeScanParts, type ScanOptions, type ScanPage, type ScanRange } from './scan.js'
export { Watch, type KvWatchEvent, type WatchOptions, type WatchTarget } from './watch.js'
export { compareRevisions } from './revisions.js'
export type { ClientOptions, ClientTlsOptions, CommonOptions, ConfigOptions, ConnectOptions, EndpointsOptions, TopologyOptions } from './options.js'
export { discoverCluster } from './discovery.js'
export type { ClusterTopology, TopologyGroup } from '@kv/protocol'
export {
  loadClusterConfig,
  parseClusterConfig,
  parseEndpoint,
  type ClusterConfig,
  type Endpoint,
  type GroupConfig,
  type ReplicaConfig,
} from './config.js'
export {
  AbortError,
  BadRequestError,
  ClosedError,
  CompactedError,
  ConfigError,
  KvError,
  NotLeaderError,
  PartialBatchError,
  ProtocolError,
  SessionExpiredError,
  TimeoutError,
  UnavailableError,
  WrongShardError,
  type BatchPart,
  type KvErrorCode,
} from './errors.js'
export { defaultClientLimits, type ClientLimits } from './limits.js'
export type { BatchEntries, Value } from './ops.js'
export type { Connector, ConnectArgs, ReplicaConnection } from './pool.js'
export type { MembersView, ReplicaStatus } from './response.js'
export type { MemberRequest } from '@kv/protocol'
export type { Logger } from './logger.js'
