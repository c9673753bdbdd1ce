import { assert } from '@kv/consensus'
import { maxDistinctValuesPerPartition } from './limits.js'

/** The model's id for a key with no value. */
export const ABSENT = -1

/**
 * Interns a partition's values as small integers, so the model state is an array of ids,
 * compared and hashed without touching strings. Appends build new strings; each
 * (value, suffix) pair is concatenated once and remembered.
 */
export class ValueTable {
  private readonly ids = new Map<string, number>()
  private readonly texts: string[] = []
  private readonly appended = new Map<number, number>()

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

  /** The id of `current` with `suffix` appended; an absent value appends to ''. */
  append(current: number, suffix: number): number {
    if (current === ABSENT) return suffix
    // Both ids are below 2^26, so the pair packs exactly into a double.
    const pair = current * maxDistinctValuesPerPartition + suffix
    let id = this.appended.get(pair)
    if (id === undefined) {
      id = this.id(this.texts[current]! + this.texts[suffix]!)
      this.appended.set(pair, id)
    }
    return id
  }
}
