import type { Entry, ReadState, Snapshot } from '@kv/consensus'
import type { PaxosMessage } from './messages.js'

/** Distributes `Omit` over a union, so each message keeps its own fields. */
export type Unaddressed<M> = M extends PaxosMessage ? Omit<M, 'from' | 'to'> : never

/**
 * Work gathered since the last `ready()`: what to persist, what to send (and when), what to
 * hand to the application. `ready()` drains it into one `Ready`.
 */
export class Outbox {
  /** Accepted slots to make durable; a later write to a slot replaces an earlier one. */
  readonly entries = new Map<number, Entry>()
  messagesNow: PaxosMessage[] = []
  /** Messages that announce durable state (a Promise, an Accepted): sent after the sync. */
  messagesAfterPersist: PaxosMessage[] = []
  readStates: ReadState[] = []
  /** A snapshot installed from a peer, to persist and restore. */
  snapshot: Snapshot | null = null

  persist(entry: Entry): void {
    this.entries.set(entry.index, entry)
  }

  isEmpty(): boolean {
    return (
      this.entries.size === 0 &&
      this.messagesNow.length === 0 &&
      this.messagesAfterPersist.length === 0 &&
      this.readStates.length === 0 &&
      this.snapshot === null
    )
  }

  clear(): void {
    this.entries.clear()
    this.messagesNow = []
    this.messagesAfterPersist = []
    this.readStates = []
    this.snapshot = null
  }
}
