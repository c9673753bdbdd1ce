import { MAX_READYS_IN_FLIGHT, maxReadysInFlight, type CoreConfig } from '@kv/consensus'

/**
 * Named bounds of the Paxos core (TIGER_STYLE: every queue and batch has an upper bound).
 * Relations between the configured timeouts are checked once, at construction, so a bad
 * config fails loudly at start rather than as a livelock in production.
 */

/** Members of one group at most. Ballots are `round * members + index + 1`, so this also
 * bounds how fast ballots grow. */
export const MAX_GROUP_SIZE = 15

/** Reads queued behind one read barrier round at most. When full, a new read is answered
 * at once with `{ ctx, index: null }` (the caller retries), never silently dropped. */
export const MAX_PENDING_READS = 65_536

/** Accepted slots one Promise may carry at most. A Promise carries every slot the acceptor
 * accepted above the candidate's chosen watermark; a larger report is malformed. */
export const MAX_PROMISE_SLOTS = 1_000_000

/** A leader steps down after hearing from no quorum for this many election timeouts. */
export const QUORUM_CHECK_ELECTION_TIMEOUTS = 2

/** Slots a test leader may be told to skip (`options.skipSlots`). */
export const MAX_SKIP_SLOTS = 1_024

const MiB = 1024 * 1024

/**
 * Upper bound on what one message may carry as payload: `maxBytesPerMessage` of entries
 * (an Accept, a Learn, a Promise's report) or `maxSnapshotChunkBytes` of snapshot data. Half
 * of the TCP transport's 16 MiB frame, so that the largest message with its other fields fits
 * in a frame (every message kind is checked by packages/sim/src/frame-fit.test.ts).
 */
export const MAX_MESSAGE_PAYLOAD_BYTES = 8 * MiB

/** Defaults of the byte bounds of `CoreConfig`. The persist bound holds a full window of
 * Accepts (8 × 4 MiB with the node's settings), so an acceptor persists it in one Ready. */
export const DEFAULT_BYTES_PER_MESSAGE = 4 * MiB
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 1 * MiB
export const DEFAULT_PERSIST_BYTES_PER_READY = 64 * MiB
export const DEFAULT_APPLY_BYTES_PER_READY = 64 * MiB

/** Largest snapshot a replica assembles from chunks; a chunk reaching past it is ignored. */
export const MAX_SNAPSHOT_BYTES = 2 * 1024 * MiB

/** Heartbeat rounds a snapshot transfer may go without an acknowledged chunk before its
 * window is resent from the replica's acknowledged offset. */
export const SNAPSHOT_STALL_ROUNDS = 3

/** Thrown by `createPaxos` for a config that can never work. */
export class PaxosConfigError extends Error {
  readonly code = 'PAXOS_CONFIG'
  constructor(message: string) {
    super(message)
    this.name = 'PaxosConfigError'
  }
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new PaxosConfigError(`${name} must be a positive integer, got ${String(value)}`)
  }
}

/** The construction-time gateway for `CoreConfig`. */
export function checkConfig(config: CoreConfig): void {
  const { members, id } = config
  if (members.length === 0 || members.length > MAX_GROUP_SIZE) {
    throw new PaxosConfigError(`a group has 1..${MAX_GROUP_SIZE} members, got ${members.length}`)
  }
  if (new Set(members).size !== members.length) {
    throw new PaxosConfigError(`members must be unique: ${members.join(', ')}`)
  }
  // A node not among `members` is a replica joining an existing group: it learns its
  // membership from the leader (see `CoreConfig.members`).
  if (typeof id !== 'string' || id.length === 0) throw new PaxosConfigError('id must be a non-empty string')
  positiveInteger('heartbeatTicks', config.heartbeatTicks)
  positiveInteger('electionTimeoutTicks', config.electionTimeoutTicks)
  positiveInteger('maxEntriesPerMessage', config.maxEntriesPerMessage)
  positiveInteger('maxInflightMessages', config.maxInflightMessages)
  if (config.maxReadysInFlight !== undefined) bounded('maxReadysInFlight', config.maxReadysInFlight, 1, MAX_READYS_IN_FLIGHT)
  // A replica must hear several heartbeats per election timeout, or a healthy leader is
  // deposed by its own followers.
  if (config.heartbeatTicks >= config.electionTimeoutTicks) {
    throw new PaxosConfigError(
      `heartbeatTicks (${config.heartbeatTicks}) must be below electionTimeoutTicks (${config.electionTimeoutTicks})`,
    )
  }
  readByteBounds(config)
}

/** The byte bounds in force: `CoreConfig`'s, or the defaults. */
export interface ByteBounds {
  readonly maxBytesPerMessage: number
  readonly maxSnapshotChunkBytes: number
  readonly maxPersistBytesPerReady: number
  readonly maxApplyBytesPerReady: number
}

function bounded(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new PaxosConfigError(`${name} must be an integer in ${min}..${max}, got ${String(value)}`)
  }
  return value
}

export function readByteBounds(config: CoreConfig): ByteBounds {
  const ceiling = MAX_MESSAGE_PAYLOAD_BYTES
  const maxBytesPerMessage = bounded('maxBytesPerMessage', config.maxBytesPerMessage ?? DEFAULT_BYTES_PER_MESSAGE, 1, ceiling)
  return {
    // A message's payload must leave room in a frame for the rest of the message.
    maxBytesPerMessage,
    maxSnapshotChunkBytes: bounded('maxSnapshotChunkBytes', config.maxSnapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES, 1, ceiling),
    // An acceptor persists the entries of one whole Accept in one Ready.
    maxPersistBytesPerReady: bounded(
      'maxPersistBytesPerReady (at least maxBytesPerMessage)', config.maxPersistBytesPerReady ?? DEFAULT_PERSIST_BYTES_PER_READY,
      maxBytesPerMessage, Number.MAX_SAFE_INTEGER,
    ),
    maxApplyBytesPerReady: bounded('maxApplyBytesPerReady', config.maxApplyBytesPerReady ?? DEFAULT_APPLY_BYTES_PER_READY, 1, Number.MAX_SAFE_INTEGER),
  }
}

/** Paxos-specific switches, read from `CoreConfig.options`. */
export interface PaxosOptions {
  /**
   * Test option: slot numbers this node, while leading, leaves empty on purpose (a new
   * proposal goes to the next free slot). Exercises hole filling by the next leader.
   */
  readonly skipSlots?: readonly number[]
  /** Ask a quorum before bumping the ballot (default true), as Raft's PreVote. */
  readonly preVote?: boolean
  /**
   * The alpha of reconfiguration (see configs.ts): a membership chosen at slot i governs
   * slots from i + alpha on, and a leader has at most alpha slots in flight past the chosen
   * prefix. Default `DEFAULT_ALPHA`. Every replica of a group must use the same value.
   */
  readonly alpha?: number
}

/** Default of `options.alpha`: room for a pipeline of batches (each slot holds a batch of
 * commands), small enough that a change takes effect within a few round trips. */
export const DEFAULT_ALPHA = 32

/** Upper bound on `options.alpha`. */
export const MAX_ALPHA = 4_096

export interface ResolvedOptions extends ByteBounds {
  readonly skipSlots: ReadonlySet<number>
  readonly preVote: boolean
  readonly alpha: number
  /** `maxReadysInFlight(config)`: Readys handed out and not yet advanced at most. */
  readonly maxReadysInFlight: number
}

export function readOptions(config: CoreConfig): ResolvedOptions {
  const preVote: unknown = config.options?.['preVote'] ?? true
  if (typeof preVote !== 'boolean') throw new PaxosConfigError('options.preVote must be a boolean')
  const alpha: unknown = config.options?.['alpha'] ?? DEFAULT_ALPHA
  if (typeof alpha !== 'number') throw new PaxosConfigError('options.alpha must be a number')
  return {
    skipSlots: readSkipSlots(config), preVote, alpha: bounded('options.alpha', alpha, 1, MAX_ALPHA),
    maxReadysInFlight: maxReadysInFlight(config), ...readByteBounds(config),
  }
}

function readSkipSlots(config: CoreConfig): ReadonlySet<number> {
  const raw: unknown = config.options?.['skipSlots']
  if (raw === undefined) return new Set()
  const valid =
    Array.isArray(raw) &&
    raw.length <= MAX_SKIP_SLOTS &&
    raw.every((slot) => Number.isSafeInteger(slot) && (slot as number) >= 1)
  if (!valid) {
    throw new PaxosConfigError(`options.skipSlots must be up to ${MAX_SKIP_SLOTS} slot numbers >= 1`)
  }
  return new Set(raw as number[])
}
