import type { Entry } from '../types.js'

/**
 * What makes two entries "the same" for the checkers. Paxos may learn one chosen value under
 * different ballots on different replicas, so by default only the kind and the bytes count;
 * cores that promise Raft's log matching (`withTerm`) must agree on the term as well.
 */
export function entryKey(entry: Entry, withTerm: boolean): string {
  const head = withTerm ? `${entry.type}@${entry.term}` : entry.type
  return entry.type === 'noop' ? head : `${head}:${bytesKey(entry.data)}`
}

/** A compact string for a small byte array (payloads in tests are short). */
export function bytesKey(data: Uint8Array): string {
  let s = ''
  for (let i = 0; i < data.length; i++) s += String.fromCharCode(data[i]!)
  return s
}

/** A short human description of an entry for failure messages. */
export function describeEntry(entry: Entry | undefined): string {
  if (entry === undefined) return 'nothing'
  if (entry.type === 'noop') return `noop(index ${entry.index}, term ${entry.term})`
  const text = bytesKey(entry.data)
  const shown = /^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : `bytes(${entry.data.length})`
  return `${shown}(index ${entry.index}, term ${entry.term})`
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Proposal payloads in the scenarios are short strings. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text)
}

export function fromUtf8(data: Uint8Array): string {
  return decoder.decode(data)
}
