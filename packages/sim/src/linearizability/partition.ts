import type { KvInput, KvOperation } from './types.js'

/**
 * P-compositionality (Herlihy & Wing §3.3; Horn & Kroening, "Faster linearizability
 * checking via P-compositionality"): a history of a map is linearizable if and only if
 * each independent part of it is. Keys are independent unless a batchPut writes them
 * together, so the parts are the connected components of keys joined by batchPuts.
 */
export interface Partition {
  /** The component's keys, in order of first appearance in the history. */
  readonly keys: readonly string[]
  /** The operations that touch those keys and constrain the search, in history order. */
  readonly ops: readonly KvOperation[]
}

/** The keys an input touches; a batchPut may name a key twice. */
export function keysOf(input: KvInput): readonly string[] {
  return input.op === 'batchPut' ? input.entries.map(([key]) => key) : [input.key]
}

/**
 * Splits a history into independent partitions, ordered by their first key's first
 * appearance. Drops what constrains nothing: a get whose answer never arrived, and a
 * batchPut with no entries.
 */
export function partitionByKey(history: readonly KvOperation[]): Partition[] {
  const ops = history.filter(constrainsSomething)
  const keyIndex = new Map<string, number>()
  const components = new KeyComponents()
  for (const op of ops) {
    let first = -1
    for (const key of keysOf(op.input)) {
      let index = keyIndex.get(key)
      if (index === undefined) {
        index = components.add()
        keyIndex.set(key, index)
      }
      if (first === -1) first = index
      else components.union(first, index)
    }
  }
  const byRoot = new Map<number, { keys: string[]; ops: KvOperation[] }>()
  for (const [key, index] of keyIndex) {
    const root = components.find(index)
    const part = byRoot.get(root) ?? { keys: [], ops: [] }
    part.keys.push(key)
    byRoot.set(root, part)
  }
  for (const op of ops) {
    const firstKey = keysOf(op.input)[0]!
    byRoot.get(components.find(keyIndex.get(firstKey)!))!.ops.push(op)
  }
  return [...byRoot.values()]
}

function constrainsSomething(op: KvOperation): boolean {
  if (op.input.op === 'get') return op.output.type !== 'unknown'
  if (op.input.op === 'batchPut') return op.input.entries.length > 0
  return true
}

/** Union-find over key indices, by size with path halving. */
class KeyComponents {
  private readonly parent: number[] = []
  private readonly size: number[] = []

  add(): number {
    this.parent.push(this.parent.length)
    this.size.push(1)
    return this.parent.length - 1
  }

  find(index: number): number {
    let i = index
    while (this.parent[i] !== i) {
      const grandparent = this.parent[this.parent[i]!]!
      this.parent[i] = grandparent
      i = grandparent
    }
    return i
  }

  union(a: number, b: number): void {
    let rootA = this.find(a)
    let rootB = this.find(b)
    if (rootA === rootB) return
    if (this.size[rootA]! < this.size[rootB]!) [rootA, rootB] = [rootB, rootA]
    this.parent[rootB] = rootA
    this.size[rootA]! += this.size[rootB]!
  }
}
