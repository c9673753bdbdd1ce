export { createPaxos } from './paxos.js'
export {
  DEFAULT_APPLY_BYTES_PER_READY, DEFAULT_BYTES_PER_MESSAGE, DEFAULT_PERSIST_BYTES_PER_READY, DEFAULT_SNAPSHOT_CHUNK_BYTES,
  MAX_MESSAGE_PAYLOAD_BYTES, MAX_SNAPSHOT_BYTES, PaxosConfigError, SNAPSHOT_STALL_ROUNDS, type PaxosOptions,
} from './limits.js'
export type {
  Accept,
  Accepted,
  Commit,
  Heartbeat,
  HeartbeatReply,
  InstallSnapshot,
  SnapshotReply,
  Learn,
  LearnReply,
  PaxosMessage,
  PaxosPromise,
  PrePrepare,
  PrePromise,
  Prepare,
  Reject,
  TimeoutNow,
} from './messages.js'
