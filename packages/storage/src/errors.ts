/** Every error this package throws across its boundary carries one of these codes. */
export type StorageErrorCode =
  | 'WAL_CORRUPT'
  | 'WAL_FAILED'
  | 'WAL_CLOSED'
  | 'WAL_OVERLOADED'
  | 'RECORD_TOO_LARGE'
  | 'BAD_ARGUMENT'
  | 'WRONG_CLUSTER'
  | 'WRONG_REPLICA'
  | 'SNAPSHOT_CORRUPT'
  | 'SNAPSHOT_MISSING'
  | 'STATE_CLOSED'
  | 'STATE_CORRUPT'
  /** `@kv/storage/testing`'s `PowerLossFs`: the machine is off; nothing reaches the disk any more. */
  | 'POWER_LOST'

export class StorageError extends Error {
  readonly code: StorageErrorCode
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'StorageError'
  }
}

/**
 * A WAL record that cannot be trusted where a torn write cannot explain it: a bad record in a
 * segment that is not the last, a missing segment, or a checksummed record that does not decode.
 * Never skipped: acknowledged data may be behind it.
 */
export class WalCorruptError extends StorageError {
  readonly segment: string
  readonly offset: number
  constructor(segment: string, offset: number, reason: string) {
    super('WAL_CORRUPT', `WAL corrupt in ${segment} at byte ${offset}: ${reason}`)
    this.name = 'WalCorruptError'
    this.segment = segment
    this.offset = offset
  }
}

/** A data folder that belongs to someone else: another cluster, or another replica. */
abstract class WrongOwnerError extends StorageError {
  readonly expected: string
  readonly found: string
  constructor(code: 'WRONG_CLUSTER' | 'WRONG_REPLICA', what: string, expected: string, found: string) {
    super(code, `${what} belongs to ${code === 'WRONG_CLUSTER' ? 'cluster' : 'replica'} "${found}", not "${expected}"`)
    this.expected = expected
    this.found = found
  }
}

/** The state store's directory belongs to another cluster. */
export class WrongClusterError extends WrongOwnerError {
  constructor(expected: string, found: string) {
    super('WRONG_CLUSTER', 'state store', expected, found)
    this.name = 'WrongClusterError'
  }
}

/** The data folder belongs to another replica of the cluster. */
export class WrongReplicaError extends WrongOwnerError {
  constructor(expected: string, found: string) {
    super('WRONG_REPLICA', 'data folder', expected, found)
    this.name = 'WrongReplicaError'
  }
}
