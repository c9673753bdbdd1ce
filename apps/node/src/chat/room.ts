/**
 * A chat room on kv: one key per room (`chat/<room>`), its value the room's log, one line per
 * message. A message is appended once, through the client's session (`append` is exactly-once:
 * a retry under the same seq is answered from the session, never applied twice), and every
 * participant renders the log by watching that key from the revision it first read it at: the
 * initial value holds the messages so far, each append event exactly the next message. So every
 * screen shows the same messages in the same order (the log's), each once, across leader changes
 * and lost messages (the watch resumes from the last revision it handed out).
 */
import { randomUUID } from 'node:crypto'
import type { KvClient } from '@kv/client'

export interface ChatMessage {
  /** Unique per message: `<name>-<sender's counter>-<random>`. */
  readonly id: string
  readonly from: string
  readonly text: string
  /** The sender's clock, ms (shown as a time). */
  readonly at: number
}

export const roomKey = (room: string) => `chat/${room}`

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** One message as one line of the log: JSON (its newlines and control characters escaped) and "\n". */
export function encodeMessage(m: ChatMessage): Uint8Array {
  return encoder.encode(JSON.stringify({ id: m.id, from: m.from, text: m.text, at: m.at }) + '\n')
}

/** A line of the log; a line that is not a message (someone wrote the key by hand) is shown as such. */
export function decodeLine(line: string): ChatMessage {
  try {
    const m = JSON.parse(line) as Partial<ChatMessage>
    if (typeof m.id === 'string' && typeof m.from === 'string' && typeof m.text === 'string') {
      return { id: m.id, from: m.from, text: m.text, at: typeof m.at === 'number' ? m.at : 0 }
    }
  } catch {
    // not JSON: shown as it is below
  }
  return { id: '', from: '?', text: line, at: 0 }
}

/** Splits bytes of the log into whole lines, keeping a partial last line for the next chunk. */
export class LineSplitter {
  #rest = ''

  push(bytes: Uint8Array): string[] {
    const text = this.#rest + decoder.decode(bytes)
    const lines = text.split('\n')
    this.#rest = lines.pop() ?? ''
    return lines.filter((l) => l !== '')
  }

  reset(): void {
    this.#rest = ''
  }
}

/** What a participant sees: messages in log order, or a notice (the room was reset by hand). */
export type RoomUpdate = { readonly kind: 'message'; readonly message: ChatMessage } | { readonly kind: 'notice'; readonly text: string }

export class ChatRoom {
  readonly key: string
  #counter = 0
  readonly #nonce = randomUUID().slice(0, 8)

  constructor(
    private readonly client: KvClient,
    readonly room: string,
    readonly name: string,
  ) {
    this.key = roomKey(room)
  }

  /** Appends one message (exactly once); resolves with it once the room's group applied it. */
  async send(text: string, options: { timeoutMs?: number } = {}): Promise<ChatMessage> {
    const message: ChatMessage = { id: `${this.name}-${++this.#counter}-${this.#nonce}`, from: this.name, text, at: Date.now() }
    await this.client.append(this.key, encodeMessage(message), options)
    return message
  }

  /** The room's messages so far. */
  async history(): Promise<ChatMessage[]> {
    const value = await this.client.get(this.key)
    return value === null ? [] : new LineSplitter().push(value).map(decodeLine)
  }

  /**
   * Every message of the room in log order, each once: those so far, then each new one as it
   * commits, until `signal` fires. Throws what the watch throws (CompactedError if this
   * participant fell further behind than the room group's history).
   */
  async *follow(signal: AbortSignal): AsyncGenerator<RoomUpdate> {
    const { value, revision } = await this.client.getWithRevision(this.key)
    const lines = new LineSplitter()
    if (value !== null) for (const line of lines.push(value)) yield { kind: 'message', message: decodeLine(line) }
    for await (const e of this.client.watch(this.key, { fromRevision: revision, signal })) {
      if (e.type === 'delete') {
        lines.reset()
        yield { kind: 'notice', text: '(the room was cleared)' }
        continue
      }
      if (e.type === 'put') {
        lines.reset()
        yield { kind: 'notice', text: '(the room was rewritten)' }
      }
      for (const line of lines.push(e.value ?? new Uint8Array())) yield { kind: 'message', message: decodeLine(line) }
    }
  }
}

/** How a message is shown: `[HH:MM:SS] name: text`. */
export function formatMessage(m: ChatMessage): string {
  const time = m.at > 0 ? new Date(m.at).toTimeString().slice(0, 8) : '--:--:--'
  return `[${time}] ${m.from}: ${m.text}`
}
