/**
 * Every error the client throws is a `KvError` with a stable `code`; match on the code or
 * the class, never on the message.
 */
export type KvErrorCode =
  | 'NOT_LEADER'
  | 'TIMEOUT'
  | 'UNAVAILABLE'
  | 'BAD_REQUEST'
  | 'SESSION_EXPIRED'
  | 'WRONG_SHARD'
  | 'CLOSED'
  | 'ABORT_ERR'
  | 'BAD_CONFIG'
  | 'PROTOCOL_ERROR'
  | 'PARTIAL_BATCH'
  | 'COMPACTED'

export class KvError extends Error {
  readonly code: KvErrorCode
  constructor(code: KvErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'KvError'
  }
}

/** Every attempt was answered NOT_LEADER until the attempt bound ran out. */
export class NotLeaderError extends KvError {
  /** The replica last named as leader, if any. */
  readonly leader: string | null
  constructor(message: string, leader: string | null) {
    super('NOT_LEADER', message)
    this.name = 'NotLeaderError'
    this.leader = leader
  }
}

/**
 * The call's deadline passed. A write that fails with it was abandoned: it may have been
 * applied once, and it will never be applied after this client's next write is answered.
 */
export class TimeoutError extends KvError {
  readonly timeoutMs: number
  constructor(message: string, timeoutMs: number, options?: { cause?: unknown }) {
    super('TIMEOUT', message, options)
    this.name = 'TimeoutError'
    this.timeoutMs = timeoutMs
  }
}

/** No replica could be reached (or the replicas refused work as overloaded). */
export class UnavailableError extends KvError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options)
    this.name = 'UnavailableError'
  }
}

/** The request is invalid: a bad key or value (caught before sending), or refused by a replica. */
export class BadRequestError extends KvError {
  constructor(message: string) {
    super('BAD_REQUEST', message)
    this.name = 'BadRequestError'
  }
}

/**
 * The replicas forgot this client's session (it was idle longer than their session TTL), so
 * they cannot tell whether a retried write was applied. Create a new client.
 */
export class SessionExpiredError extends KvError {
  constructor(message: string) {
    super('SESSION_EXPIRED', message)
    this.name = 'SessionExpiredError'
  }
}

/** The key's shard is moving; every attempt until the bound ran out was refused. */
export class WrongShardError extends KvError {
  constructor(message: string) {
    super('WRONG_SHARD', message)
    this.name = 'WrongShardError'
  }
}

/**
 * A watch asked for events from a revision older than the group's history still holds (it keeps
 * the last events up to a bound, 10,000 by default), or from before the key moved to its group
 * further back than the loser's word on it reaches. Never a silent gap: start again from `oldest`
 * (after reading the current value) or from now.
 */
export class CompactedError extends KvError {
  /** The oldest revision ("<epoch>.<index>") the watch could resume from there. */
  readonly oldest: string
  constructor(message: string, oldest: string) {
    super('COMPACTED', message)
    this.name = 'CompactedError'
    this.oldest = oldest
  }
}

/** One group's part of a `batchPut` that spans groups, and how it ended. */
export interface BatchPart {
  readonly group: string
  readonly keys: readonly string[]
  /** `applied`: the group answered; `failed`: its error says whether it may have applied (a TimeoutError may). */
  readonly outcome: 'applied' | 'failed'
  readonly error?: KvError
}

/**
 * A `batchPut` spanning groups is one atomic write per group, sent in parallel. When some
 * part fails, the call rejects with this error once every part has ended: `parts` says which
 * were applied and how each other one failed. Parts are never rolled back.
 */
export class PartialBatchError extends KvError {
  readonly parts: readonly BatchPart[]
  constructor(parts: readonly BatchPart[]) {
    const failed = parts.filter((p) => p.outcome === 'failed')
    super('PARTIAL_BATCH', `batchPut: ${parts.length - failed.length} of ${parts.length} group parts applied; ${failed.map((p) => `${p.group}: ${p.error?.message ?? 'failed'}`).join('; ')}`)
    this.name = 'PartialBatchError'
    this.parts = parts
  }
}

/** The client was closed (before or during the call). */
export class ClosedError extends KvError {
  constructor(message = 'the client is closed') {
    super('CLOSED', message)
    this.name = 'ClosedError'
  }
}

/** The caller's `AbortSignal` fired. Same name and code as Node's own AbortError. */
export class AbortError extends KvError {
  constructor(reason?: unknown) {
    super('ABORT_ERR', 'the operation was aborted', { cause: reason })
    this.name = 'AbortError'
  }
}

/** The options or the cluster config are invalid; the message names the field. */
export class ConfigError extends KvError {
  constructor(message: string) {
    super('BAD_CONFIG', message)
    this.name = 'ConfigError'
  }
}

/** A replica answered something that is not a valid answer to the request. */
export class ProtocolError extends KvError {
  constructor(message: string) {
    super('PROTOCOL_ERROR', message)
    this.name = 'ProtocolError'
  }
}
