import { assert, takeWithinBytes, type Entry, type PersistedState, type Snapshot } from '@kv/consensus'

/** What one Ready handed out of the log; given back to `RaftLog.endReady` on advance. */
export interface ReadyToken {
  readonly lastEntryIndex: number | null
  readonly committedTo: number | null
  readonly snapshot: Snapshot | null
}

/** The last log entry that may still match a leader's log; see `findConflictByTerm`. */
export interface LogHint {
  readonly index: number
  readonly term: number
}

/**
 * The replicated log of one node, and the bookkeeping of what the shell has been handed:
 *
 *   snapshotIndex < firstIndex ... durableTo ≤ handedOutTo ... lastIndex
 *   appliedIndex ≤ applyingTo ≤ commitIndex ≤ lastIndex
 *
 * `handedOutTo`: entries up to it went out in a Ready (the shell is writing or wrote them).
 * `durableTo`: entries up to it are on disk (their Ready was advanced): only these count
 * toward a quorum for this node.
 */
export class RaftLog {
  snapshotIndex = 0
  snapshotTerm = 0
  /** The newest snapshot this node holds, sent to followers that need compacted entries. */
  snapshot: Snapshot | null = null
  /** entries[i] holds index snapshotIndex + 1 + i. */
  private entries: Entry[] = []
  commitIndex = 0
  appliedIndex = 0
  applyingTo = 0
  handedOutTo = 0
  durableTo = 0
  /** A truncation of handed-out entries the shell must still make (Ready.truncateFrom). */
  pendingTruncateFrom: number | null = null
  /** A snapshot received from a leader and not yet handed out (Ready.snapshot). */
  pendingSnapshot: Snapshot | null = null
  /** Lowest index cut since the Ready in flight was handed out: its entries from here on
   * were replaced and must not be counted as durable when it is advanced. */
  private truncatedSinceReady = Infinity

  static restore(persisted: PersistedState | null): RaftLog {
    const log = new RaftLog()
    if (persisted === null) return log
    const snapshot = persisted.snapshot
    if (snapshot !== null) {
      log.snapshot = snapshot
      log.snapshotIndex = snapshot.index
      log.snapshotTerm = snapshot.term
    }
    for (const e of persisted.entries) {
      if (e.index <= log.snapshotIndex) continue
      assert(e.index === log.lastIndex() + 1, `persisted log has a gap before index ${e.index}`)
      assert(e.term >= log.lastTerm(), `persisted log term decreases at index ${e.index}`)
      log.entries.push(e)
    }
    const commit = Math.max(persisted.hardState?.commit ?? 0, log.snapshotIndex)
    assert(commit <= log.lastIndex(), `persisted commit ${commit} beyond the persisted log (${log.lastIndex()})`)
    log.commitIndex = commit
    // Raft §7: the application restores its snapshot itself; committed entries after it are
    // handed out again and the application skips what it already applied.
    log.appliedIndex = log.applyingTo = log.snapshotIndex
    log.handedOutTo = log.durableTo = log.lastIndex()
    return log
  }

  firstIndex(): number {
    return this.snapshotIndex + 1
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length
  }

  lastTerm(): number {
    return this.entries.at(-1)?.term ?? this.snapshotTerm
  }

  /** The term of the entry at `index`, or undefined if compacted away or beyond the log. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm
    return this.entry(index)?.term
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapshotIndex) return undefined
    return this.entries[index - this.snapshotIndex - 1]
  }

  /** Entries in [from, to), which must all be in the log. */
  slice(from: number, to: number): Entry[] {
    assert(from > this.snapshotIndex && to <= this.lastIndex() + 1, `slice [${from}, ${to}) outside the log`)
    return this.entries.slice(from - this.snapshotIndex - 1, to - this.snapshotIndex - 1)
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term
  }

  /** Raft §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm()
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex())
  }

  /** A leader appends its own entries (Raft §5.3, Leader Append-Only). */
  append(entry: Entry): void {
    assert(entry.index === this.lastIndex() + 1, `append of index ${entry.index} after ${this.lastIndex()}`)
    assert(entry.term >= this.lastTerm(), 'append of an entry with an older term')
    this.entries.push(entry)
  }

  /**
   * Raft §5.3 (receiver rules 2-5): if our log holds prevIndex with prevTerm, delete the
   * conflicting suffix, append what is new and return the last index now known to match;
   * otherwise null.
   */
  maybeAppend(prevIndex: number, prevTerm: number, entries: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null
    for (const e of entries) {
      const ours = this.term(e.index)
      if (ours === e.term) continue
      // Leader Completeness (Raft §5.4): a committed entry is never overwritten.
      assert(e.index > this.commitIndex, `conflict at committed index ${e.index}`)
      if (ours !== undefined) this.truncateFrom(e.index)
      for (const rest of entries.slice(e.index - prevIndex - 1)) this.entries.push(rest)
      break
    }
    return prevIndex + entries.length
  }

  /** Drops entries ≥ index from memory and schedules the same cut on disk if needed. */
  private truncateFrom(index: number): void {
    assert(index > this.commitIndex && index > this.snapshotIndex, `truncation at ${index} below commit`)
    this.entries.length = index - this.snapshotIndex - 1
    if (index <= this.handedOutTo) {
      this.pendingTruncateFrom = Math.min(this.pendingTruncateFrom ?? Infinity, index)
      this.handedOutTo = index - 1
      this.durableTo = Math.min(this.durableTo, index - 1)
      this.truncatedSinceReady = Math.min(this.truncatedSinceReady, index)
    }
  }

  /**
   * The rejection hint (an optimization of Raft §5.3 noted at its end): the last entry at or
   * below `index` whose term is ≤ `term`. Entries above it certainly conflict.
   */
  findConflictByTerm(index: number, term: number): LogHint {
    for (let i = Math.min(index, this.lastIndex()); i > this.snapshotIndex; i--) {
      const t = this.term(i)
      if (t !== undefined && t <= term) return { index: i, term: t }
    }
    return { index: this.snapshotIndex, term: this.snapshotTerm }
  }

  commitTo(index: number): boolean {
    if (index <= this.commitIndex) return false
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`)
    this.commitIndex = index
    return true
  }

  /**
   * Raft §7: install a leader's snapshot. Entries after it are kept only if our log holds
   * the snapshot's last entry (they then follow the same history); otherwise the log is
   * replaced by the snapshot.
   */
  installSnapshot(snapshot: Snapshot): void {
    assert(snapshot.index > this.commitIndex, 'installing a snapshot that is already committed')
    const keepsSuffix = this.matchTerm(snapshot.index, snapshot.term)
    if (keepsSuffix) {
      this.entries = this.entries.slice(snapshot.index - this.snapshotIndex)
    } else {
      // Entries above the old commit may belong to another history: not durable any more.
      const cut = this.commitIndex + 1
      this.entries = []
      if (this.handedOutTo >= cut) this.pendingTruncateFrom = Math.min(this.pendingTruncateFrom ?? Infinity, cut)
      this.durableTo = Math.min(this.durableTo, this.commitIndex)
      this.truncatedSinceReady = Math.min(this.truncatedSinceReady, cut)
      this.handedOutTo = snapshot.index
    }
    this.snapshot = snapshot
    this.snapshotIndex = snapshot.index
    this.snapshotTerm = snapshot.term
    this.handedOutTo = Math.max(this.handedOutTo, snapshot.index)
    this.commitIndex = snapshot.index
    this.pendingSnapshot = snapshot
  }

  /** The application stored `snapshot` durably: drop the entries it covers. */
  compact(snapshot: Snapshot): void {
    assert(snapshot.index <= this.appliedIndex, `compact at ${snapshot.index} beyond applied ${this.appliedIndex}`)
    if (snapshot.index <= this.snapshotIndex) return
    assert(this.term(snapshot.index) === snapshot.term, `snapshot term ${snapshot.term} does not match the log`)
    this.entries = this.entries.slice(snapshot.index - this.snapshotIndex)
    this.snapshot = snapshot
    this.snapshotIndex = snapshot.index
    this.snapshotTerm = snapshot.term
  }

  // --- Ready bookkeeping ---------------------------------------------------------------

  hasUnstable(): boolean {
    return this.lastIndex() > this.handedOutTo || this.pendingTruncateFrom !== null || this.pendingSnapshot !== null
  }

  /** The first committed index not yet handed out to be applied. */
  private nextToApply(): number {
    return Math.max(this.applyingTo, this.pendingSnapshot?.index ?? 0) + 1
  }

  hasCommittedToApply(): boolean {
    return this.commitIndex >= this.nextToApply()
  }

  /**
   * Hands out what is pending, up to `maxPersistBytes` of entries to persist and
   * `maxApplyBytes` of committed entries (at least one entry each); returns what the Ready
   * carries and its token. Committed entries never reach past the entries handed out, which
   * are the ones durable once this Ready is.
   */
  beginReady(maxPersistBytes = Infinity, maxApplyBytes = Infinity): {
    entries: Entry[]; committed: Entry[]; truncateFrom: number | null; token: ReadyToken
  } {
    const snapshot = this.pendingSnapshot
    const unstable = this.handedOutTo < this.lastIndex() ? this.slice(this.handedOutTo + 1, this.lastIndex() + 1) : []
    const entries = takeWithinBytes(unstable, maxPersistBytes)
    const handedOutTo = entries.at(-1)?.index ?? this.handedOutTo
    const from = this.nextToApply()
    const applyTo = Math.min(this.commitIndex, handedOutTo)
    const committed = from <= applyTo ? takeWithinBytes(this.slice(from, applyTo + 1), maxApplyBytes) : []
    const truncateFrom = this.pendingTruncateFrom
    const token: ReadyToken = {
      lastEntryIndex: entries.at(-1)?.index ?? null,
      committedTo: committed.at(-1)?.index ?? null,
      snapshot,
    }
    this.handedOutTo = handedOutTo
    this.applyingTo = Math.max(this.applyingTo, snapshot?.index ?? 0, token.committedTo ?? 0)
    this.pendingSnapshot = null
    this.pendingTruncateFrom = null
    this.truncatedSinceReady = Infinity
    return { entries, committed, truncateFrom, token }
  }

  /** The shell made the Ready of `token` durable and applied it. */
  endReady(token: ReadyToken): void {
    if (token.snapshot !== null) {
      this.durableTo = Math.max(this.durableTo, token.snapshot.index)
      this.appliedIndex = Math.max(this.appliedIndex, token.snapshot.index)
    }
    if (token.lastEntryIndex !== null) {
      const durable = Math.min(token.lastEntryIndex, this.truncatedSinceReady - 1)
      this.durableTo = Math.max(this.durableTo, Math.min(durable, this.handedOutTo))
    }
    if (token.committedTo !== null) this.appliedIndex = Math.max(this.appliedIndex, token.committedTo)
    this.truncatedSinceReady = Infinity
  }

  /** Checks the log's own invariants; throws InvariantError. */
  checkInvariants(): void {
    assert(this.commitIndex <= this.lastIndex(), `commit ${this.commitIndex} > last index ${this.lastIndex()}`)
    assert(this.appliedIndex <= this.applyingTo, `applied ${this.appliedIndex} > applying ${this.applyingTo}`)
    assert(this.applyingTo <= this.commitIndex, `applying ${this.applyingTo} > commit ${this.commitIndex}`)
    assert(this.snapshotIndex <= this.commitIndex, `snapshot ${this.snapshotIndex} > commit ${this.commitIndex}`)
    const restoring = Math.max(this.pendingSnapshot?.index ?? 0, this.applyingTo)
    assert(this.snapshotIndex <= Math.max(this.appliedIndex, restoring), 'entries compacted before being applied')
    assert(this.durableTo <= this.handedOutTo, `durable ${this.durableTo} > handed out ${this.handedOutTo}`)
    assert(this.handedOutTo <= this.lastIndex(), `handed out ${this.handedOutTo} > last index ${this.lastIndex()}`)
    let previousTerm = this.snapshotTerm
    this.entries.forEach((e, i) => {
      assert(e.index === this.snapshotIndex + 1 + i, `log index gap at ${e.index}`)
      assert(e.term >= previousTerm, `log term decreases at ${e.index}`)
      previousTerm = e.term
    })
  }
}
