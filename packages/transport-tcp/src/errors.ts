/**
 * Errors that cross the package boundary. Each has a stable `code`; match on it (or on the
 * class), never on the message.
 */
export type TransportErrorCode =
  | 'FRAME_TOO_LARGE'
  | 'FRAME_MALFORMED'
  | 'PORT_IN_USE'
  | 'LISTEN_FAILED'
  | 'HANDSHAKE_REFUSED'
  | 'TIMEOUT'
  | 'CONNECTION_CLOSED'
  | 'ABORT_ERR'
  | 'TOO_MANY_PENDING'
  | 'UNKNOWN_PEER'
  | 'INVALID_FAULT_CONFIG'
  | TlsErrorCode

/**
 * TLS failures. TLS_UNKNOWN_CA: the other side's certificate is not signed by the cluster CA.
 * TLS_NAME_MISMATCH: the certificate is not for the host dialed (its subjectAltName).
 * TLS_BAD_CERT: expired, not yet valid, or refused for another reason. TLS_HANDSHAKE_FAILED:
 * the handshake broke off (often: the listener runs without TLS). TLS_REQUIRED: a plain-TCP
 * connection to a listener that speaks TLS. TLS_CONFIG: a certificate or key file that cannot
 * be read or parsed, or does not match.
 */
export type TlsErrorCode = 'TLS_UNKNOWN_CA' | 'TLS_NAME_MISMATCH' | 'TLS_BAD_CERT' | 'TLS_HANDSHAKE_FAILED' | 'TLS_REQUIRED' | 'TLS_CONFIG'

export class TransportError extends Error {
  readonly code: TransportErrorCode
  constructor(code: TransportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'TransportError'
  }
}

/** A frame that cannot be accepted: too long for `maxFrameBytes`, or not a decodable message. */
export class FrameError extends TransportError {
  constructor(code: 'FRAME_TOO_LARGE' | 'FRAME_MALFORMED', message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'FrameError'
  }
}

export class PortInUseError extends TransportError {
  readonly host: string
  readonly port: number
  constructor(host: string, port: number, cause: unknown) {
    super('PORT_IN_USE', `${host}:${port} is already in use`, { cause })
    this.name = 'PortInUseError'
    this.host = host
    this.port = port
  }
}

export class ListenError extends TransportError {
  constructor(message: string, cause: unknown) {
    super('LISTEN_FAILED', message, { cause })
    this.name = 'ListenError'
  }
}

/** The listener answered `refused` (wrong cluster id or token, or a bad hello). */
export class HandshakeRefusedError extends TransportError {
  readonly reason: string
  constructor(reason: string) {
    super('HANDSHAKE_REFUSED', `connection refused by the listener: ${reason}`)
    this.name = 'HandshakeRefusedError'
    this.reason = reason
  }
}

export class TransportTimeoutError extends TransportError {
  readonly timeoutMs: number
  constructor(what: string, timeoutMs: number) {
    super('TIMEOUT', `${what} timed out after ${timeoutMs} ms`)
    this.name = 'TransportTimeoutError'
    this.timeoutMs = timeoutMs
  }
}

/**
 * The connection closed (or was never open) before the answer came. A request that fails
 * with it may or may not have been applied by the server.
 */
export class ConnectionClosedError extends TransportError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('CONNECTION_CLOSED', `connection closed: ${reason}`, options)
    this.name = 'ConnectionClosedError'
  }
}

/** The caller's `AbortSignal` fired. Same name and code as Node's own AbortError. */
export class AbortError extends TransportError {
  constructor(reason?: unknown) {
    super('ABORT_ERR', 'the operation was aborted', { cause: reason })
    this.name = 'AbortError'
  }
}

export class TooManyPendingError extends TransportError {
  constructor(limit: number) {
    super('TOO_MANY_PENDING', `more than ${limit} requests in flight on one connection`)
    this.name = 'TooManyPendingError'
  }
}

export class UnknownPeerError extends TransportError {
  readonly nodeId: string
  constructor(nodeId: string) {
    super('UNKNOWN_PEER', `no address for peer ${JSON.stringify(nodeId)}`)
    this.name = 'UnknownPeerError'
    this.nodeId = nodeId
  }
}

export class FaultConfigError extends TransportError {
  constructor(message: string) {
    super('INVALID_FAULT_CONFIG', message)
    this.name = 'FaultConfigError'
  }
}

export class TlsError extends TransportError {
  declare readonly code: TlsErrorCode
  constructor(code: TlsErrorCode, message: string, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause })
    this.name = 'TlsError'
  }
}
