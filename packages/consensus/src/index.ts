export type {
  ConsensusCore,
  CoreConfig,
  CoreFactory,
  Entry,
  HardState,
  NodeId,
  NotLeader,
  PeerMessage,
  PersistedState,
  ProposeMembershipResult,
  ProposeResult,
  ReadState,
  Ready,
  Role,
  Snapshot,
  Status,
} from './types.js'
export { isNotLeader } from './types.js'
export { InvariantError, assert, unreachable } from './assert.js'
export { createRng, type Rng } from './random.js'
export { backoffMs } from './backoff.js'
export { CoreConfigError, DEFAULT_MAX_READYS_IN_FLIGHT, MAX_READYS_IN_FLIGHT, maxReadysInFlight } from './limits.js'
export { byteBounds, ENTRY_OVERHEAD_BYTES, entryBytes, takeWithinBytes, type ByteBounds } from './sizes.js'
export {
  DUPLICATE_ACKS_TO_RESEND, SnapshotAssembly, membershipFields, SnapshotSender, isSnapshotChunk, isSnapshotChunkAck,
  type ChunkOutcome, type SnapshotChunk, type SnapshotChunkAck,
} from './snapshot-transfer.js'
export {
  MAX_CHANGE_CONTEXT_BYTES, MAX_MEMBERS, MAX_ROSTER, PROMOTE_MAX_LAG_ENTRIES, applyChange, hasQuorum, initialMembership,
  isLearner, isMember, isMemberContexts, isRefusedForNow, isMembership, isMembershipChange, isMembershipEntryBody, isMembershipRefusal, isVoter, membersOf,
  membershipRefusal, quorumOf, sameChange, sameMembership,
  type Membership, type MembershipChange, type MembershipEntry, type MembershipRefusal, type MembershipRefusalReason,
} from './membership.js'
