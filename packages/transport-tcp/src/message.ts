/**
 * What travels in a frame: a plain object with a string `type`. The transport never looks
 * further into it (the application's own parser is the gateway for the rest). Fields are
 * `unknown` because they come off the network.
 */
export type TransportMessage = { readonly type: string; readonly [field: string]: unknown }

/** What may be sent: any object with a string `type` (an application's message union fits). */
export interface OutgoingMessage {
  readonly type: string
}

export function isTransportMessage(value: unknown): value is TransportMessage {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    typeof (value as { type?: unknown }).type === 'string'
  )
}

/** A message's bytes for the queues' byte bounds, without encoding it. */
export const MESSAGE_OVERHEAD_BYTES = 64

/**
 * About how many bytes `msg` takes on the wire: its byte arrays and strings, plus a constant
 * per message and per nested object (what dominates is the data: log entries, snapshot
 * chunks, values). Walks at most a few levels and a bounded number of fields, so it is cheap
 * next to the encoding the message goes through anyway.
 */
export function approximateMessageBytes(msg: OutgoingMessage): number {
  let bytes = MESSAGE_OVERHEAD_BYTES
  let budget = 10_000
  const walk = (v: unknown, depth: number): void => {
    if (budget-- <= 0) return
    if (typeof v === 'string') bytes += v.length
    else if (v instanceof Uint8Array) bytes += v.byteLength
    else if (typeof v !== 'object' || v === null || depth > 4) return
    else if (Array.isArray(v)) for (const x of v) walk(x, depth + 1)
    else {
      bytes += 8
      for (const k in v) walk((v as Record<string, unknown>)[k], depth + 1)
    }
  }
  walk(msg, 0)
  return bytes
}

/**
 * A peer link's liveness probe and its answer, the only frames that travel back on a peer
 * connection: a link whose pings go unanswered for `peerSilenceMs` is closed and redialed.
 * (After a partition heals, a connection whose segments were lost can stay silent for as long
 * as TCP's doubled retransmission timeout; nothing else would notice.)
 */
export const LINK_PING = 'link-ping'
export const LINK_PONG = 'link-pong'
