import type { Entry } from '@kv/consensus'

/** The sequence number of a write still in the outbox (not handed out in any Ready yet). */
const IN_OUTBOX = 0

/**
 * Which slots this replica holds in memory but not yet durably, as it holds them: written
 * and still in the outbox, or handed out in a Ready that was not advanced yet. Readys are
 * numbered from 1 as they are handed out; each slot remembers the Ready that carries its
 * latest write, so an advance of an older Ready does not make a newer value durable (an
 * acceptor may accept a slot again while its earlier write is in flight).
 *
 * A slot is durable when it is not here: only durable slots are handed out to apply, and a
 * leader counts its own acceptance of a slot only once it is durable.
 */
export class UnsyncedSlots {
  private readonly latest = new Map<number, number>()

  get size(): number {
    return this.latest.size
  }

  /** `slot` was written in memory (it goes out in the next Ready). */
  written(slot: number): void {
    this.latest.set(slot, IN_OUTBOX)
  }

  /** Ready `seq` carries `entries`: their latest writes now wait for it. */
  handedOut(entries: readonly Entry[], seq: number): void {
    for (const e of entries) this.latest.set(e.index, seq)
  }

  /** Ready `seq` was advanced: its writes that are still the latest are durable. */
  persisted(entries: readonly Entry[], seq: number): void {
    for (const e of entries) if (this.latest.get(e.index) === seq) this.latest.delete(e.index)
  }

  isDurable(slot: number): boolean {
    return !this.latest.has(slot)
  }

  /** A snapshot covers every slot up to `index`: what they hold no longer matters. */
  dropThrough(index: number): void {
    for (const slot of this.latest.keys()) if (slot <= index) this.latest.delete(slot)
  }

  /** For the invariants: each slot with the Ready carrying its latest write (0: the outbox). */
  entries(): IterableIterator<[number, number]> {
    return this.latest.entries()
  }
}
