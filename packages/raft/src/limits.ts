import type { CoreConfig } from '@kv/consensus'

/**
 * Named bounds of the Raft core (TIGER_STYLE: every queue and batch has one), and the
 * relations between configured values, checked once at construction.
 */
export const limits = {
  /** Upper bound on `CoreConfig.maxEntriesPerMessage` (entries in one AppendEntries). */
  maxEntriesPerMessage: 10_000,
  /** Upper bound on `CoreConfig.maxInflightMessages` (AppendEntries in flight to one follower). */
  maxInflightMessages: 1_024,
  /** Members of one group at most (a Raft group larger than this is a configuration error). */
  maxMembers: 15,
  /** Reads waiting for leadership confirmation. When full, a new read is failed at once
   * with `{ ctx, index: null }` (the caller retries): fail fast rather than grow. */
  maxPendingReads: 10_000,
  /** Upper bound on the election timeout, in ticks. */
  maxElectionTimeoutTicks: 1_000_000,
  /** Heartbeat rounds a follower stays in snapshot state without an answer before the
   * leader assumes the InstallSnapshot was lost and sends it again. */
  snapshotRetryHeartbeats: 3,
} as const

/** Options read from `CoreConfig.options`. */
export interface RaftOptions {
  /** Raft thesis §9.6: ask for votes with term+1 before disrupting anyone. Default true. */
  readonly preVote: boolean
  /** Raft thesis §6.2: a leader that cannot reach a quorum steps down; followers with a live
   * leader ignore vote requests (leader lease). Default true. */
  readonly checkQuorum: boolean
}

/** A configuration the core refuses to run with; thrown by `createRaft`. */
export class RaftConfigError extends Error {
  readonly code = 'RAFT_CONFIG'
  constructor(message: string) {
    super(`invalid raft config: ${message}`)
    this.name = 'RaftConfigError'
  }
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new RaftConfigError(message)
}

function isCount(n: unknown, min: number, max: number): boolean {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= min && n <= max
}

function readBoolean(options: Readonly<Record<string, unknown>> | undefined, name: string, fallback: boolean): boolean {
  const value = options?.[name]
  if (value === undefined) return fallback
  check(typeof value === 'boolean', `options.${name} must be a boolean, got ${JSON.stringify(value)}`)
  return value
}

/** Validates `config` and returns the Raft options it carries. */
export function checkConfig(config: CoreConfig): RaftOptions {
  const { id, members } = config
  check(typeof id === 'string' && id.length > 0, 'id must be a non-empty string')
  check(members.length >= 1 && members.length <= limits.maxMembers, `members must hold 1..${limits.maxMembers} ids`)
  check(new Set(members).size === members.length, 'members must be unique')
  check(members.includes(id), `members must include this node (${id})`)
  check(isCount(config.heartbeatTicks, 1, limits.maxElectionTimeoutTicks), 'heartbeatTicks must be a positive integer')
  check(
    isCount(config.electionTimeoutTicks, 2, limits.maxElectionTimeoutTicks),
    `electionTimeoutTicks must be an integer in 2..${limits.maxElectionTimeoutTicks}`,
  )
  // Raft §5.6: broadcastTime << electionTimeout, or followers time out between heartbeats.
  check(
    config.heartbeatTicks < config.electionTimeoutTicks,
    `heartbeatTicks (${config.heartbeatTicks}) must be below electionTimeoutTicks (${config.electionTimeoutTicks})`,
  )
  check(
    isCount(config.maxEntriesPerMessage, 1, limits.maxEntriesPerMessage),
    `maxEntriesPerMessage must be an integer in 1..${limits.maxEntriesPerMessage}`,
  )
  check(
    isCount(config.maxInflightMessages, 1, limits.maxInflightMessages),
    `maxInflightMessages must be an integer in 1..${limits.maxInflightMessages}`,
  )
  check(typeof config.random === 'function', 'random must be a function')
  return {
    preVote: readBoolean(config.options, 'preVote', true),
    checkQuorum: readBoolean(config.options, 'checkQuorum', true),
  }
}
