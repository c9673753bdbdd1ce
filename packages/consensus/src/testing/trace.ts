import type { NodeId } from '../types.js'

interface TraceEvent {
  readonly tick: number
  readonly node: NodeId
  readonly what: string
  readonly payload: unknown
}

const MAX_PAYLOAD_CHARS = 160

/**
 * The last `capacity` events of a run, kept cheaply (payloads are formatted only when a
 * failure is reported) so that a failure message shows what led up to it.
 */
export class Trace {
  private readonly events: (TraceEvent | undefined)[]
  private next = 0

  constructor(private readonly capacity: number) {
    this.events = new Array<TraceEvent | undefined>(capacity)
  }

  record(tick: number, node: NodeId, what: string, payload: unknown = undefined): void {
    if (this.capacity === 0) return
    this.events[this.next % this.capacity] = { tick, node, what, payload }
    this.next++
  }

  /** The kept events, oldest first, one line each. */
  lines(): string[] {
    const out: string[] = []
    const start = Math.max(0, this.next - this.capacity)
    for (let i = start; i < this.next; i++) {
      const e = this.events[i % this.capacity]
      if (e !== undefined) out.push(`t=${e.tick} ${e.node} ${e.what}${formatPayload(e.payload)}`)
    }
    return out
  }
}

function formatPayload(payload: unknown): string {
  if (payload === undefined) return ''
  const text = JSON.stringify(payload, (_key, value: unknown) =>
    value instanceof Uint8Array ? `bytes(${value.length})` : value,
  )
  return ' ' + (text.length > MAX_PAYLOAD_CHARS ? text.slice(0, MAX_PAYLOAD_CHARS) + '…' : text)
}
