import { assert, sameChange, sameMembership, type Entry, type Snapshot } from '@kv/consensus'

/**
 * The acceptor's accepted slots: for each slot, the (ballot, value) it accepted last
 * ("Paxos Made Simple" §2.2: an acceptor remembers the highest-numbered proposal it
 * accepted). Unlike a Raft log it may have holes. Slots at or below the snapshot are
 * compacted away: they are chosen and applied, and live only in the snapshot.
 */
export class SlotLog {
  private readonly slots = new Map<number, Entry>()
  private highestSlot = 0
  private highestAcceptedBallot = 0
  private snapshotMeta: Snapshot | null = null

  get snapshot(): Snapshot | null {
    return this.snapshotMeta
  }

  get snapshotIndex(): number {
    return this.snapshotMeta?.index ?? 0
  }

  /** First slot still held here. */
  get firstIndex(): number {
    return this.snapshotIndex + 1
  }

  /** Highest slot ever accepted here (or covered by the snapshot). */
  get lastIndex(): number {
    return Math.max(this.highestSlot, this.snapshotIndex)
  }

  /** Highest ballot at which any slot was ever accepted here. */
  get highestBallot(): number {
    return this.highestAcceptedBallot
  }

  get(slot: number): Entry | undefined {
    return this.slots.get(slot)
  }

  set(entry: Entry): void {
    assert(entry.index > this.snapshotIndex, () => `slot ${entry.index} is compacted`)
    this.slots.set(entry.index, entry)
    if (entry.index > this.highestSlot) this.highestSlot = entry.index
    if (entry.term > this.highestAcceptedBallot) this.highestAcceptedBallot = entry.term
  }

  /** Every accepted slot above `slot`, in slot order. */
  acceptedAbove(slot: number): Entry[] {
    const above: Entry[] = []
    for (const entry of this.slots.values()) if (entry.index > slot) above.push(entry)
    return above.sort((a, b) => a.index - b.index)
  }

  /** The entries of slots `from..to`, which must all be held (no hole). */
  range(from: number, to: number): Entry[] {
    const out: Entry[] = []
    for (let slot = from; slot <= to; slot++) {
      const entry = this.slots.get(slot)
      assert(entry !== undefined, () => `no entry at slot ${slot} in ${from}..${to}`)
      out.push(entry)
    }
    return out
  }

  /** Drops slots at or below the snapshot; slots above it stay (they are still promises). */
  installSnapshot(snapshot: Snapshot): void {
    if (snapshot.index <= this.snapshotIndex) return
    this.snapshotMeta = snapshot
    for (const slot of this.slots.keys()) if (slot <= snapshot.index) this.slots.delete(slot)
  }

  entries(): IterableIterator<Entry> {
    return this.slots.values()
  }
}

/** Two entries carry the same value (the ballots may differ). */
export function sameValue(a: Entry, b: Entry): boolean {
  if (a.type !== b.type) return false
  if (a.type === 'noop' || b.type === 'noop') return true
  if (a.type === 'membership' || b.type === 'membership') {
    return a.type === 'membership' && b.type === 'membership' && sameChange(a.change, b.change) && sameMembership(a.membership, b.membership)
  }
  if (a.data.length !== b.data.length) return false
  return a.data.every((byte, i) => byte === b.data[i])
}
