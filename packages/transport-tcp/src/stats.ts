/**
 * Counters kept by every transport object. All only grow, except the gauges marked so.
 * `stats()` on each object returns a copy.
 */
export interface TransportStats {
  framesSent: number
  framesReceived: number
  /** Bytes written to / read from sockets, length prefixes included. */
  bytesSent: number
  bytesReceived: number
  /** Socket `write()` calls; `framesSent / socketWrites` is the batching factor. */
  socketWrites: number
  /** Messages the fault injector dropped (outgoing, or incoming client requests when enabled). */
  droppedByFault: number
  /** Messages dropped because an outgoing queue was full (see the queue policy in the README). */
  droppedQueueFull: number
  /** Messages dropped from the queue of a peer that could not be reached (all but the newest few). */
  droppedUnreachable: number
  /** Replies that arrived with no request waiting for them (timed out, aborted, or unknown). */
  droppedUnmatched: number
  /** Connection attempts made after a failure or a lost connection. */
  reconnects: number
  /** Peer links closed because their liveness probes went unanswered. */
  silentLinksReset: number
  /** Connections opened (outgoing) or accepted (listener). */
  connectionsOpened: number
  /** Connections closed because of a bad frame, a protocol violation or a refused handshake. */
  protocolErrors: number
  /** Gauge: messages waiting in outgoing queues now. */
  queuedMessages: number
  /** Gauge: bytes handed to sockets and not yet taken by the kernel (bounded by backpressure). */
  socketBufferedBytes: number
}

export function createStats(): TransportStats {
  return {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    socketWrites: 0,
    droppedByFault: 0,
    droppedQueueFull: 0,
    droppedUnreachable: 0,
    droppedUnmatched: 0,
    reconnects: 0,
    silentLinksReset: 0,
    connectionsOpened: 0,
    protocolErrors: 0,
    queuedMessages: 0,
    socketBufferedBytes: 0,
  }
}

/** Adds `b` into a copy of `a` (to total per-peer stats). */
export function addStats(a: TransportStats, b: TransportStats): TransportStats {
  const out = { ...a }
  for (const key of Object.keys(out) as (keyof TransportStats)[]) out[key] += b[key]
  return out
}
