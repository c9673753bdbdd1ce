import { MAX_READYS_IN_FLIGHT, maxReadysInFlight, type CoreConfig } from '@kv/consensus'

/**
 * Named bounds of the Raft core (TIGER_STYLE: every queue and batch has one), and the
 * relations between configured values, checked once at construction.
 */
const MiB = 1024 * 1024

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
  /** Heartbeat rounds a snapshot transfer may go without an acknowledged chunk before the
   * leader assumes its window was lost and resends it from the follower's acknowledged offset. */
  snapshotRetryHeartbeats: 3,
  /**
   * Upper bound on what one message may carry as payload: `maxBytesPerMessage` of entries,
   * or `maxSnapshotChunkBytes` of snapshot data. Half of the TCP transport's 16 MiB frame
   * (`maxFrameBytes`), so that the largest message, its other fields included, fits in a frame
   * (every message kind is checked against the frame by packages/sim/src/frame-fit.test.ts).
   */
  maxMessagePayloadBytes: 8 * MiB,
  /** Default of `CoreConfig.maxBytesPerMessage`. */
  defaultBytesPerMessage: 4 * MiB,
  /** Default of `CoreConfig.maxSnapshotChunkBytes`. */
  defaultSnapshotChunkBytes: 1 * MiB,
  /** Default of `CoreConfig.maxPersistBytesPerReady`: at least a full window of AppendEntries
   * (8 × 4 MiB with the node's settings), so that a follower persists it in one Ready. */
  defaultPersistBytesPerReady: 64 * MiB,
  /** Default of `CoreConfig.maxApplyBytesPerReady`. */
  defaultApplyBytesPerReady: 64 * MiB,
  /** Largest snapshot a follower assembles from chunks; a chunk reaching past it is dropped
   * at the gateway. */
  maxSnapshotBytes: 2 * 1024 * MiB,
} as const

/** The byte bounds in force, `CoreConfig`'s or the defaults. */
export interface ByteBounds {
  readonly maxBytesPerMessage: number
  readonly maxSnapshotChunkBytes: number
  readonly maxPersistBytesPerReady: number
  readonly maxApplyBytesPerReady: number
}

/** Options read from `CoreConfig.options`, and the byte bounds in force. */
export interface RaftOptions extends ByteBounds {
  /** Raft thesis §9.6: ask for votes with term+1 before disrupting anyone. Default true. */
  readonly preVote: boolean
  /** Raft thesis §6.2: a leader that cannot reach a quorum steps down; followers with a live
   * leader ignore vote requests (leader lease). Default true. */
  readonly checkQuorum: boolean
  /** `maxReadysInFlight(config)`: Readys handed out and not yet advanced at most. */
  readonly maxReadysInFlight: number
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
  // A node not among `members` is a replica joining an existing group: it learns its
  // membership from the leader (see `CoreConfig.members`).
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
  const readys = config.maxReadysInFlight
  check(readys === undefined || isCount(readys, 1, MAX_READYS_IN_FLIGHT), `maxReadysInFlight must be an integer in 1..${MAX_READYS_IN_FLIGHT}`)
  return {
    preVote: readBoolean(config.options, 'preVote', true),
    checkQuorum: readBoolean(config.options, 'checkQuorum', true),
    maxReadysInFlight: maxReadysInFlight(config),
    ...checkByteBounds(config),
  }
}

function checkByteBounds(config: CoreConfig): ByteBounds {
  const ceiling = limits.maxMessagePayloadBytes
  const bounds: ByteBounds = {
    maxBytesPerMessage: config.maxBytesPerMessage ?? limits.defaultBytesPerMessage,
    maxSnapshotChunkBytes: config.maxSnapshotChunkBytes ?? limits.defaultSnapshotChunkBytes,
    maxPersistBytesPerReady: config.maxPersistBytesPerReady ?? limits.defaultPersistBytesPerReady,
    maxApplyBytesPerReady: config.maxApplyBytesPerReady ?? limits.defaultApplyBytesPerReady,
  }
  // A message's payload must leave room in a frame for the rest of the message.
  check(isCount(bounds.maxBytesPerMessage, 1, ceiling), `maxBytesPerMessage must be an integer in 1..${ceiling}`)
  check(isCount(bounds.maxSnapshotChunkBytes, 1, ceiling), `maxSnapshotChunkBytes must be an integer in 1..${ceiling}`)
  // A follower persists the entries of one whole AppendEntries in one Ready.
  check(
    isCount(bounds.maxPersistBytesPerReady, bounds.maxBytesPerMessage, Number.MAX_SAFE_INTEGER),
    `maxPersistBytesPerReady (${bounds.maxPersistBytesPerReady}) must be an integer ≥ maxBytesPerMessage (${bounds.maxBytesPerMessage})`,
  )
  check(isCount(bounds.maxApplyBytesPerReady, 1, Number.MAX_SAFE_INTEGER), 'maxApplyBytesPerReady must be a positive integer')
  return bounds
}
