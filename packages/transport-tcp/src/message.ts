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
