import { Packr } from 'msgpackr'
import type { ClientResponse, OpResult } from '@kv/protocol'
import { unreachable } from '@kv/consensus'

/**
 * A client's exactly-once session: the answers to its writes that it has not yet
 * acknowledged. A retried write (same seq) is answered from here and never applied twice.
 */
export interface Session<R = OpResult> {
  lastActiveMs: number
  /** Every answer with seq ≤ ackedSeq has reached the client and is forgotten. */
  ackedSeq: number
  readonly results: Map<number, R>
}

export type SessionLookup<R = OpResult> =
  | { readonly kind: 'new' }
  | { readonly kind: 'answered'; readonly result: R }
  | { readonly kind: 'acknowledged' }

export function newSession<R>(nowMs: number): Session<R> {
  return { lastActiveMs: nowMs, ackedSeq: 0, results: new Map() }
}

/** Drop the answers the client has acknowledged. */
export function acknowledge<R>(session: Session<R>, ackedSeq: number): void {
  if (ackedSeq <= session.ackedSeq) return
  for (const seq of session.results.keys()) if (seq <= ackedSeq) session.results.delete(seq)
  session.ackedSeq = ackedSeq
}

export function lookup<R>(session: Session<R>, seq: number): SessionLookup<R> {
  const result = session.results.get(seq)
  if (result !== undefined) return { kind: 'answered', result }
  if (seq <= session.ackedSeq) return { kind: 'acknowledged' }
  return { kind: 'new' }
}

export function remember<R>(session: Session<R>, seq: number, result: R, maxResults: number): void {
  session.results.set(seq, result)
  if (session.results.size > maxResults) {
    // Maps iterate in insertion order: the first key is the oldest answer.
    const oldest = session.results.keys().next().value
    if (oldest !== undefined) session.results.delete(oldest)
  }
}

/** A session as it is written to snapshots, state stores and (later) migration records. */
export type EncodedSession<R = OpResult> = readonly [lastActiveMs: number, ackedSeq: number, results: ReadonlyArray<readonly [number, R]>]

export interface SessionLimits {
  /** A session with no write for this long (by log time) is forgotten. */
  readonly sessionTtlMs: number
  /** Most unacknowledged answers kept per session; past it, the oldest are dropped. */
  readonly maxResultsPerSession: number
}

/** The identity of one client write as it sits in the log. */
export interface SessionCommand {
  readonly clientId: string
  readonly seq: number
  readonly ackedSeq: number
}

const packr = new Packr({ useRecords: false, moreTypes: false })

/** `ackedSeq` of the mark an expired session leaves behind. */
const EXPIRED = -1

/** What `applyOnce` answers: the write's remembered result (new or from the session), or an error. */
export type SessionAnswer<R> =
  | { readonly type: 'result'; readonly result: R }
  | Extract<ClientResponse, { type: 'error' }>

/**
 * Every client session of one state machine. Any machine whose writes come from clients
 * applies them through `applyOnce`, which is where exactly-once lives: a retried write is
 * answered from the session; a write the session can no longer deduplicate is refused.
 * `R` is what the machine remembers per write (by default the answer a client gets).
 */
export class SessionTable<R = OpResult> {
  private sessions = new Map<string, Session<R>>()
  private dirty = new Set<string>()

  constructor(
    private readonly limits: SessionLimits,
    private readonly trackChanges: boolean,
  ) {}

  /** Live sessions (not counting the marks of expired ones). */
  get size(): number {
    let n = 0
    for (const s of this.sessions.values()) if (s.ackedSeq !== EXPIRED) n++
    return n
  }

  /**
   * Expires every session idle for longer than the TTL at log time `nowMs` (the same on every
   * replica). An expired session leaves a mark for one more TTL: a client whose session expired
   * is refused (a retry of it could have been applied), while a client that never wrote here —
   * its first write to this group, in a sharded cluster — simply starts one.
   */
  expire(nowMs: number): void {
    const horizon = nowMs - this.limits.sessionTtlMs
    for (const [id, s] of this.sessions) {
      if (s.lastActiveMs >= horizon) continue
      if (s.ackedSeq === EXPIRED) this.sessions.delete(id)
      else {
        // The mark lives one TTL from now: far longer than any client keeps retrying a call.
        this.sessions.set(id, { lastActiveMs: nowMs, ackedSeq: EXPIRED, results: new Map() })
      }
      this.mark(id)
    }
  }

  /** Applies `command` at most once: `applyOp` runs only for a seq this session has not answered. */
  applyOnce(command: SessionCommand, timeMs: number, applyOp: () => R): SessionAnswer<R> {
    let session: Session<R> | undefined = this.sessions.get(command.clientId)
    if (session === undefined || session.ackedSeq === EXPIRED) {
      // The client has acknowledged answers we no longer hold: its session expired, and a
      // retried write could have been applied already. Refuse rather than risk a double apply.
      if (session !== undefined && command.ackedSeq > 0) {
        return { type: 'error', code: 'SESSION_EXPIRED', message: `session ${command.clientId} expired; start a new client` }
      }
      session = newSession<R>(timeMs)
      this.sessions.set(command.clientId, session)
    }
    session.lastActiveMs = timeMs
    acknowledge(session, command.ackedSeq)
    this.mark(command.clientId)
    const found = lookup(session, command.seq)
    switch (found.kind) {
      case 'answered':
        return { type: 'result', result: found.result }
      case 'acknowledged':
        return { type: 'error', code: 'BAD_REQUEST', message: `seq ${command.seq} was already acknowledged` }
      case 'new': {
        const result = applyOp()
        remember(session, command.seq, result, this.limits.maxResultsPerSession)
        return { type: 'result', result }
      }
      default:
        return unreachable(found, 'session lookup')
    }
  }

  encode(id: string): EncodedSession<R> | null {
    const s = this.sessions.get(id)
    return s === undefined ? null : [s.lastActiveMs, s.ackedSeq, [...s.results]]
  }

  /** The session's bytes for a durable mirror (null when it no longer exists). */
  encodeBytes(id: string): Uint8Array | null {
    const e = this.encode(id)
    return e === null ? null : packr.pack(e)
  }

  load(id: string, encoded: EncodedSession<R>): void {
    const [lastActiveMs, ackedSeq, results] = encoded
    this.sessions.set(id, { lastActiveMs, ackedSeq, results: new Map(results) })
  }

  loadBytes(id: string, bytes: Uint8Array): void {
    this.load(id, packr.unpack(bytes) as EncodedSession<R>)
  }

  ids(): IterableIterator<string> {
    return this.sessions.keys()
  }

  /** Every session, encoded (snapshots). */
  encodeAll(): Array<readonly [string, ...EncodedSession<R>]> {
    return [...this.sessions.keys()].map((id) => [id, ...this.encode(id)!] as const)
  }

  /** Replaces every session (restore from a snapshot). */
  replaceAll(all: ReadonlyArray<readonly [string, ...EncodedSession<R>]>): void {
    this.sessions = new Map()
    for (const [id, ...encoded] of all) this.load(id, encoded)
    this.dirty.clear()
  }

  /**
   * Takes in sessions that moved with their keys from another group. A client's seqs are
   * global (one session spans groups), so answers union: whatever either side answered and
   * the client has not acknowledged stays answerable, and the newest watermark wins.
   */
  merge(all: ReadonlyArray<readonly [string, ...EncodedSession<R>]>): void {
    for (const [id, lastActiveMs, ackedSeq, results] of all) {
      const mine = this.sessions.get(id)
      if (ackedSeq === EXPIRED) {
        if (mine !== undefined) continue
        this.load(id, [lastActiveMs, ackedSeq, results])
      } else if (mine === undefined || mine.ackedSeq === EXPIRED) this.load(id, [lastActiveMs, ackedSeq, results])
      else {
        for (const [seq, result] of results) if (seq > mine.ackedSeq && !mine.results.has(seq)) mine.results.set(seq, result)
        mine.lastActiveMs = Math.max(mine.lastActiveMs, lastActiveMs)
        acknowledge(mine, ackedSeq)
      }
      this.mark(id)
    }
  }

  /** Ids changed since the last drain: what a durable mirror must rewrite. */
  drain(): ReadonlySet<string> {
    const d = this.dirty
    this.dirty = new Set()
    return d
  }

  private mark(id: string): void {
    if (this.trackChanges) this.dirty.add(id)
  }
}
