import type { Entry, NodeId } from '../types.js'
import { entryKey } from './identity.js'

export interface CommittedRecord {
  readonly key: string
  readonly entry: Entry
  readonly node: NodeId
  readonly tick: number
  /** How the entry was first seen committed. */
  readonly how: 'applied' | 'durably committed'
}

/**
 * Every entry any node has been seen to commit, by index: the first sighting wins and every
 * later one must agree with it. Shared by the log matching, state machine safety and leader
 * completeness checkers.
 */
export class CommittedRegistry {
  private readonly byIndex = new Map<number, CommittedRecord>()

  constructor(
    private readonly withTerm: boolean,
    private readonly now: () => number,
  ) {}

  get(index: number): CommittedRecord | undefined {
    return this.byIndex.get(index)
  }

  keyOf(entry: Entry): string {
    return entryKey(entry, this.withTerm)
  }

  /** Records `entry` as committed; returns the earlier, different record at its index, if any. */
  record(entry: Entry, node: NodeId, how: CommittedRecord['how']): CommittedRecord | null {
    const key = this.keyOf(entry)
    const earlier = this.byIndex.get(entry.index)
    if (earlier === undefined) {
      this.byIndex.set(entry.index, { key, entry, node, tick: this.now(), how })
      return null
    }
    return earlier.key === key ? null : earlier
  }

  records(): IterableIterator<[number, CommittedRecord]> {
    return this.byIndex.entries()
  }

  get size(): number {
    return this.byIndex.size
  }
}
