import type { Entry } from '../types.js'
import type { MembershipChange, Membership } from '../membership.js'

/**
 * What makes two entries "the same" for the checkers. Paxos may learn one chosen value under
 * different ballots on different replicas, so by default only the kind and the bytes count;
 * cores that promise Raft's log matching (`withTerm`) must agree on the term as well.
 */
export function entryKey(entry: Entry, withTerm: boolean): string {
  const head = withTerm ? `${entry.type}@${entry.term}` : entry.type
  if (entry.type === 'noop') return head
  if (entry.type === 'membership') return `${head}:${membershipKey(entry.change, entry.membership)}`
  return `${head}:${bytesKey(entry.data)}`
}

/** A membership entry's change and result, as a string. */
export function membershipKey(change: MembershipChange, membership: Membership): string {
  return `${change.type} ${change.id} [${bytesKey(change.context)}] voters ${membership.voters.join(',')} ` +
    `learners ${membership.learners.join(',')} roster ${membership.roster.join(',')}`
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
  if (entry.type === 'membership') return `membership ${entry.change.type} ${entry.change.id}(index ${entry.index}, term ${entry.term})`
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
