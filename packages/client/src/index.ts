export { createClient, KvClient, type CallOptions, type GetOptions } from './client.js'
export type { ClientOptions, ClientTlsOptions, ConfigOptions, EndpointsOptions } from './options.js'
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
export type { ReplicaStatus } from './response.js'
export type { Logger } from './logger.js'
