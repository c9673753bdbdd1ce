import type { OpResult } from '@kv/protocol'

/**
 * A client's exactly-once session: the answers to its writes that it has not yet
 * acknowledged. A retried write (same seq) is answered from here and never applied twice.
 */
export interface Session {
  lastActiveMs: number
  /** Every answer with seq ≤ ackedSeq has reached the client and is forgotten. */
  ackedSeq: number
  readonly results: Map<number, OpResult>
}

export type SessionLookup =
  | { readonly kind: 'new' }
  | { readonly kind: 'answered'; readonly result: OpResult }
  | { readonly kind: 'acknowledged' }

export function newSession(nowMs: number): Session {
  return { lastActiveMs: nowMs, ackedSeq: 0, results: new Map() }
}

/** Drop the answers the client has acknowledged. */
export function acknowledge(session: Session, ackedSeq: number): void {
  if (ackedSeq <= session.ackedSeq) return
  for (const seq of session.results.keys()) if (seq <= ackedSeq) session.results.delete(seq)
  session.ackedSeq = ackedSeq
}

export function lookup(session: Session, seq: number): SessionLookup {
  const result = session.results.get(seq)
  if (result !== undefined) return { kind: 'answered', result }
  if (seq <= session.ackedSeq) return { kind: 'acknowledged' }
  return { kind: 'new' }
}

export function remember(session: Session, seq: number, result: OpResult, maxResults: number): void {
  session.results.set(seq, result)
  if (session.results.size > maxResults) {
    // Maps iterate in insertion order: the first key is the oldest answer.
    const oldest = session.results.keys().next().value
    if (oldest !== undefined) session.results.delete(oldest)
  }
}
