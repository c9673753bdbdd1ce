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

/** The state store's directory belongs to another cluster. */
export class WrongClusterError extends StorageError {
  readonly expected: string
  readonly found: string
  constructor(expected: string, found: string) {
    super('WRONG_CLUSTER', `state store belongs to cluster "${found}", not "${expected}"`)
    this.name = 'WrongClusterError'
    this.expected = expected
    this.found = found
  }
}

export class WrongReplicaError extends StorageError {
  readonly expected: string
  readonly found: string
  constructor(expected: string, found: string) {
    super('WRONG_REPLICA', `data folder belongs to replica "${found}", not "${expected}"`)
    this.name = 'WrongReplicaError'
    this.expected = expected
    this.found = found
  }
}
