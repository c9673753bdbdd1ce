/**
 * Named bounds of the TCP transport. Units are in the names. Every queue and every frame
 * has one; they are checked where data enters (the frame decoder, `send`, `request`).
 */
export interface TransportLimits {
  /** Largest frame payload accepted or produced, in bytes (the 4-byte length prefix excluded). */
  readonly maxFrameBytes: number
  /**
   * Largest frame accepted before the handshake is done. An unauthenticated socket must not
   * make us buffer `maxFrameBytes`; a hello is a few hundred bytes.
   */
  readonly maxHelloFrameBytes: number
  /** An accepted socket that has not said hello within this time is closed. */
  readonly handshakeTimeoutMs: number
  /** An outgoing connection (TCP connect + welcome) that takes longer than this is abandoned. */
  readonly connectTimeoutMs: number
  /** Most messages waiting in one outgoing queue (per peer, or per accepted client connection). */
  readonly maxQueuedMessages: number
  /** Most bytes of messages waiting in one outgoing queue (about: `approximateMessageBytes`). */
  readonly maxQueuedBytes: number
  /**
   * Most messages kept for a peer that cannot be reached (its link failed and waits to
   * reconnect): the newest. Consensus resends what matters; a peer that returns after a long
   * absence is caught up by the protocol (entries or a snapshot), not by a replay of everything
   * sent to it while it was gone.
   */
  readonly maxQueuedMessagesUnreachable: number
  /** Most bytes of frames gathered into one socket write. A single larger frame goes alone. */
  readonly maxBatchBytes: number
  /** Most frames gathered into one socket write. */
  readonly maxBatchFrames: number
  /** How often an open peer link sends a liveness probe (`link-ping`). */
  readonly peerPingIntervalMs: number
  /** A peer link with no answer to its probes for this long is closed and redialed. */
  readonly peerSilenceMs: number
  /** First reconnect delay of a peer link; it doubles on each failure. */
  readonly reconnectMinDelayMs: number
  /** Ceiling of the reconnect delay. */
  readonly reconnectMaxDelayMs: number
  /** Most requests in flight on one client connection; past it, `request` rejects at once. */
  readonly maxPendingRequests: number
  /** Default timeout of a client request. */
  readonly requestTimeoutMs: number
}

const MiB = 1024 * 1024

export const defaultTransportLimits: TransportLimits = {
  maxFrameBytes: 16 * MiB,
  maxHelloFrameBytes: 4096,
  handshakeTimeoutMs: 5_000,
  connectTimeoutMs: 5_000,
  maxQueuedMessages: 4096,
  maxQueuedBytes: 64 * MiB,
  maxQueuedMessagesUnreachable: 256,
  maxBatchBytes: 256 * 1024,
  maxBatchFrames: 1024,
  peerPingIntervalMs: 250,
  peerSilenceMs: 2_000,
  reconnectMinDelayMs: 50,
  reconnectMaxDelayMs: 2_000,
  maxPendingRequests: 10_000,
  requestTimeoutMs: 10_000,
}

/** The length prefix of every frame: a 32-bit big-endian unsigned integer. */
export const FRAME_HEADER_BYTES = 4
/** The largest length a 4-byte prefix can carry; `maxFrameBytes` may not exceed it. */
export const MAX_ENCODABLE_FRAME_BYTES = 0xffff_ffff

/** Fills in defaults and checks the relations between the bounds; throws RangeError. */
export function resolveTransportLimits(overrides: Partial<TransportLimits> = {}): TransportLimits {
  const merged: TransportLimits = { ...defaultTransportLimits, ...overrides }
  // A small maxFrameBytes (tests, constrained nodes) pulls the default hello bound down with it.
  // So does a small maxQueuedMessages the bound for an unreachable peer's queue.
  const l: TransportLimits = {
    ...merged,
    ...(overrides.maxHelloFrameBytes === undefined ? { maxHelloFrameBytes: Math.min(merged.maxHelloFrameBytes, merged.maxFrameBytes) } : {}),
    ...(overrides.maxQueuedMessagesUnreachable === undefined
      ? { maxQueuedMessagesUnreachable: Math.min(merged.maxQueuedMessagesUnreachable, merged.maxQueuedMessages) }
      : {}),
  }
  checkTransportLimits(l)
  return l
}

export function checkTransportLimits(l: TransportLimits): void {
  const bad = (what: string): never => {
    throw new RangeError(`transport limits: ${what}`)
  }
  const positiveInt = (n: number) => Number.isSafeInteger(n) && n > 0
  if (!positiveInt(l.maxFrameBytes) || l.maxFrameBytes > MAX_ENCODABLE_FRAME_BYTES) {
    bad(`maxFrameBytes must be an integer in [1, ${MAX_ENCODABLE_FRAME_BYTES}]`)
  }
  if (!positiveInt(l.maxHelloFrameBytes)) bad('maxHelloFrameBytes must be a positive integer')
  if (l.maxHelloFrameBytes > l.maxFrameBytes) bad('maxHelloFrameBytes must be ≤ maxFrameBytes')
  if (!(l.handshakeTimeoutMs > 0)) bad('handshakeTimeoutMs must be > 0')
  if (!(l.connectTimeoutMs > 0)) bad('connectTimeoutMs must be > 0')
  if (!positiveInt(l.maxQueuedMessages)) bad('maxQueuedMessages must be a positive integer')
  if (!positiveInt(l.maxQueuedBytes)) bad('maxQueuedBytes must be a positive integer')
  if (!positiveInt(l.maxQueuedMessagesUnreachable) || l.maxQueuedMessagesUnreachable > l.maxQueuedMessages) {
    bad('maxQueuedMessagesUnreachable must be a positive integer ≤ maxQueuedMessages')
  }
  if (!positiveInt(l.maxBatchBytes)) bad('maxBatchBytes must be a positive integer')
  if (!positiveInt(l.maxBatchFrames)) bad('maxBatchFrames must be a positive integer')
  if (!(l.peerPingIntervalMs > 0)) bad('peerPingIntervalMs must be > 0')
  if (!(l.peerSilenceMs > 2 * l.peerPingIntervalMs)) bad('peerSilenceMs must be more than twice peerPingIntervalMs')
  if (!(l.reconnectMinDelayMs > 0)) bad('reconnectMinDelayMs must be > 0')
  if (!(l.reconnectMaxDelayMs >= l.reconnectMinDelayMs)) bad('reconnectMaxDelayMs must be ≥ reconnectMinDelayMs')
  if (!positiveInt(l.maxPendingRequests)) bad('maxPendingRequests must be a positive integer')
  if (!(l.requestTimeoutMs > 0)) bad('requestTimeoutMs must be > 0')
}
