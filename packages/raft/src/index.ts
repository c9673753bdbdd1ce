import type { ConsensusCore, CoreConfig } from '@kv/consensus'
import { RaftNode } from './raft.js'

/** Builds a Raft core (see `ConsensusCore` in @kv/consensus). Throws RaftConfigError on a bad config. */
export function createRaft(config: CoreConfig): ConsensusCore {
  return new RaftNode(config)
}

export { limits, RaftConfigError, type RaftOptions } from './limits.js'
export type {
  AppendEntries,
  AppendEntriesResponse,
  Heartbeat,
  HeartbeatResponse,
  InstallSnapshot,
  InstallSnapshotResponse,
  PreVote,
  PreVoteResponse,
  RaftMessage,
  RaftMessageType,
  RequestVote,
  RequestVoteResponse,
  TimeoutNow,
} from './messages.js'
