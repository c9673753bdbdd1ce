import { assert } from '@kv/consensus'
import { maxDistinctValuesPerPartition } from './limits.js'

/** The model's id for a key with no value. */
export const ABSENT = -1

/**
 * Interns a partition's values as small integers, so the model state is an array of ids,
 * compared and hashed without touching strings.
 */
export class ValueTable {
  private readonly ids = new Map<string, number>()
  private readonly texts: string[] = []
  private readonly prefixLengths = new Map<number, number>()

  id(text: string): number {
    let id = this.ids.get(text)
    if (id === undefined) {
      id = this.texts.length
      assert(id < maxDistinctValuesPerPartition, 'too many distinct values in one partition')
      this.ids.set(text, id)
      this.texts.push(text)
    }
    return id
  }

  text(id: number): string | null {
    return id === ABSENT ? null : this.texts[id]!
  }

  /**
   * The length of `prefix`'s text when it starts the text of `id` ('' for ABSENT), or -1.
   * Remembered: a search asks about the same few pairs again and again.
   */
  prefixLength(prefix: number, id: number): number {
    if (prefix === ABSENT) return 0
    // Both ids are below 2^26, so the pair packs exactly into a double.
    const pair = prefix * maxDistinctValuesPerPartition + id
    let length = this.prefixLengths.get(pair)
    if (length === undefined) {
      const text = this.texts[prefix]!
      length = this.texts[id]!.startsWith(text) ? text.length : -1
      this.prefixLengths.set(pair, length)
    }
    return length
  }
}
