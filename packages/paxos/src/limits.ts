import type { CoreConfig } from '@kv/consensus'

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
  if (!members.includes(id)) throw new PaxosConfigError(`${id} is not one of the members`)
  positiveInteger('heartbeatTicks', config.heartbeatTicks)
  positiveInteger('electionTimeoutTicks', config.electionTimeoutTicks)
  positiveInteger('maxEntriesPerMessage', config.maxEntriesPerMessage)
  positiveInteger('maxInflightMessages', config.maxInflightMessages)
  // A replica must hear several heartbeats per election timeout, or a healthy leader is
  // deposed by its own followers.
  if (config.heartbeatTicks >= config.electionTimeoutTicks) {
    throw new PaxosConfigError(
      `heartbeatTicks (${config.heartbeatTicks}) must be below electionTimeoutTicks (${config.electionTimeoutTicks})`,
    )
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
}

export interface ResolvedOptions {
  readonly skipSlots: ReadonlySet<number>
  readonly preVote: boolean
}

export function readOptions(config: CoreConfig): ResolvedOptions {
  const preVote: unknown = config.options?.['preVote'] ?? true
  if (typeof preVote !== 'boolean') throw new PaxosConfigError('options.preVote must be a boolean')
  return { skipSlots: readSkipSlots(config), preVote }
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
