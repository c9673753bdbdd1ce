export { createPaxos } from './paxos.js'
export { PaxosConfigError, type PaxosOptions } from './limits.js'
export type {
  Accept,
  Accepted,
  Commit,
  Heartbeat,
  HeartbeatReply,
  InstallSnapshot,
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
