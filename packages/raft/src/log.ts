import { assert, takeWithinBytes, type Entry, type Membership, type PersistedState, type Snapshot } from '@kv/consensus'

/** What one Ready handed out of the log; given back to `RaftLog.endReady` on advance. */
export interface ReadyToken {
  readonly lastEntryIndex: number | null
  readonly snapshot: Snapshot | null
  /** Lowest index cut from the log since this Ready was handed out (Infinity: none): its
   * entries from there on were replaced, and do not count as durable when it is advanced. */
  cutFrom: number
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
 *   appliedIndex ≤ min(commitIndex, durableTo)
 *
 * `handedOutTo`: entries up to it went out in a Ready (the shell is writing or wrote them).
 * `durableTo`: entries up to it are on disk as this log holds them (every Ready carrying
 * them was advanced, and none was cut since): only these count toward a quorum for this
 * node, and only these are handed out to apply. Several Readys may be in flight (`inFlight`,
 * oldest first); they are advanced in that order, so each advance extends the durable prefix.
 */
export class RaftLog {
  snapshotIndex = 0
  snapshotTerm = 0
  /** The newest snapshot this node holds, sent to followers that need compacted entries. */
  snapshot: Snapshot | null = null
  /** entries[i] holds index snapshotIndex + 1 + i. */
  private entries: Entry[] = []
  /** The membership in force at `snapshotIndex` (thesis §4.1: a configuration is the latest in
   * the log; below the log's first entry, the snapshot's). */
  snapshotMembership: Membership
  /** Indexes of the membership entries in `entries`, ascending. */
  private configIndexes: number[] = []
  commitIndex = 0
  /** Highest committed index handed out to apply (the shell applies at once), or of a
   * snapshot whose Ready was advanced (restored by then). */
  appliedIndex = 0
  handedOutTo = 0
  durableTo = 0
  /** A truncation of handed-out entries the shell must still make (Ready.truncateFrom). */
  pendingTruncateFrom: number | null = null
  /** A snapshot received from a leader and not yet handed out (Ready.snapshot). */
  pendingSnapshot: Snapshot | null = null
  /** Readys handed out and not yet advanced, oldest first. */
  private readonly inFlight: ReadyToken[] = []
  /** How many of `inFlight` carry a snapshot: nothing is handed out to apply meanwhile. */
  private snapshotsInFlight = 0

  constructor(initialMembership: Membership) {
    this.snapshotMembership = initialMembership
  }

  /** `initialMembership`: the group's membership when nothing persisted says otherwise. */
  static restore(persisted: PersistedState | null, initialMembership: Membership): RaftLog {
    const log = new RaftLog(initialMembership)
    if (persisted === null) return log
    const snapshot = persisted.snapshot
    if (snapshot !== null) {
      log.snapshot = snapshot
      log.snapshotIndex = snapshot.index
      log.snapshotTerm = snapshot.term
      log.snapshotMembership = snapshot.membership ?? initialMembership
    }
    for (const e of persisted.entries) {
      if (e.index <= log.snapshotIndex) continue
      assert(e.index === log.lastIndex() + 1, `persisted log has a gap before index ${e.index}`)
      assert(e.term >= log.lastTerm(), `persisted log term decreases at index ${e.index}`)
      log.push(e)
    }
    const commit = Math.max(persisted.hardState?.commit ?? 0, log.snapshotIndex)
    assert(commit <= log.lastIndex(), `persisted commit ${commit} beyond the persisted log (${log.lastIndex()})`)
    log.commitIndex = commit
    // Raft §7: the application restores its snapshot itself; committed entries after it are
    // handed out again and the application skips what it already applied.
    log.appliedIndex = log.snapshotIndex
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

  private push(e: Entry): void {
    this.entries.push(e)
    if (e.type === 'membership') this.configIndexes.push(e.index)
  }

  /** The membership in force at `index` (≥ snapshotIndex): the latest membership entry at or
   * below it, else the snapshot's. Thesis §4.1: a server uses the latest configuration in its
   * log, committed or not. */
  membershipAt(index: number): Membership {
    for (let i = this.configIndexes.length - 1; i >= 0; i--) {
      const at = this.configIndexes[i]!
      if (at > index) continue
      const e = this.entry(at)
      assert(e?.type === 'membership', `no membership entry at ${at}`)
      return e.membership
    }
    return this.snapshotMembership
  }

  /** The latest membership in the log (or the snapshot's). */
  membership(): Membership {
    return this.membershipAt(this.lastIndex())
  }

  /** Index of the latest membership entry in the log, or the snapshot's index when none. */
  configIndex(): number {
    return this.configIndexes.at(-1) ?? this.snapshotIndex
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
    this.push(entry)
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
      for (const rest of entries.slice(e.index - prevIndex - 1)) this.push(rest)
      break
    }
    return prevIndex + entries.length
  }

  /** Drops entries ≥ index from memory and schedules the same cut on disk if needed. */
  private truncateFrom(index: number): void {
    assert(index > this.commitIndex && index > this.snapshotIndex, `truncation at ${index} below commit`)
    this.entries.length = index - this.snapshotIndex - 1
    // Thesis §4.1: a configuration entry cut from the log no longer applies.
    this.configIndexes = this.configIndexes.filter((i) => i < index)
    if (index <= this.handedOutTo) {
      this.pendingTruncateFrom = Math.min(this.pendingTruncateFrom ?? Infinity, index)
      this.handedOutTo = index - 1
      this.durableTo = Math.min(this.durableTo, index - 1)
      this.cutInFlight(index)
    }
  }

  /** Entries from `index` on were replaced: the Readys in flight that carry them do not make them durable. */
  private cutInFlight(index: number): void {
    for (const token of this.inFlight) {
      if (token.lastEntryIndex !== null && token.lastEntryIndex >= index) token.cutFrom = Math.min(token.cutFrom, index)
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
    // A leader's snapshot carries its membership; one from an older leader may not, and then
    // our own log (when it holds the same history) tells it.
    const membership = snapshot.membership ?? (keepsSuffix ? this.membershipAt(snapshot.index) : this.snapshotMembership)
    if (keepsSuffix) {
      this.entries = this.entries.slice(snapshot.index - this.snapshotIndex)
      this.configIndexes = this.configIndexes.filter((i) => i > snapshot.index)
    } else {
      this.configIndexes = []
      // Entries above the old commit may belong to another history: not durable any more.
      const cut = this.commitIndex + 1
      this.entries = []
      if (this.handedOutTo >= cut) this.pendingTruncateFrom = Math.min(this.pendingTruncateFrom ?? Infinity, cut)
      this.durableTo = Math.min(this.durableTo, this.commitIndex)
      this.cutInFlight(cut)
      this.handedOutTo = snapshot.index
    }
    const withMembership = { ...snapshot, membership }
    this.snapshot = withMembership
    this.snapshotIndex = snapshot.index
    this.snapshotTerm = snapshot.term
    this.snapshotMembership = membership
    this.handedOutTo = Math.max(this.handedOutTo, snapshot.index)
    this.commitIndex = snapshot.index
    this.pendingSnapshot = withMembership
  }

  /** The application stored `snapshot` durably: drop the entries it covers. The snapshot
   * kept (and sent to followers) carries the membership in force at its index, as this log
   * says: the log is the authority on it, whatever the application put there. */
  compact(snapshot: Snapshot): void {
    assert(snapshot.index <= this.appliedIndex, `compact at ${snapshot.index} beyond applied ${this.appliedIndex}`)
    if (snapshot.index <= this.snapshotIndex) return
    assert(this.term(snapshot.index) === snapshot.term, `snapshot term ${snapshot.term} does not match the log`)
    const membership = this.membershipAt(snapshot.index)
    this.entries = this.entries.slice(snapshot.index - this.snapshotIndex)
    this.configIndexes = this.configIndexes.filter((i) => i > snapshot.index)
    this.snapshot = { ...snapshot, membership }
    this.snapshotMembership = membership
    this.snapshotIndex = snapshot.index
    this.snapshotTerm = snapshot.term
  }

  // --- Ready bookkeeping ---------------------------------------------------------------

  hasUnstable(): boolean {
    return this.lastIndex() > this.handedOutTo || this.pendingTruncateFrom !== null || this.pendingSnapshot !== null
  }

  /** Readys handed out and not yet advanced. */
  readysInFlight(): number {
    return this.inFlight.length
  }

  /**
   * The highest committed index that may be handed out to apply: durable here (so a restart
   * finds it again), and not behind a snapshot the shell has not restored yet.
   */
  private applicableTo(): number {
    if (this.pendingSnapshot !== null || this.snapshotsInFlight > 0) return this.appliedIndex
    return Math.max(this.appliedIndex, Math.min(this.commitIndex, this.durableTo))
  }

  hasCommittedToApply(): boolean {
    return this.applicableTo() > this.appliedIndex
  }

  /**
   * Hands out what is pending, up to `maxPersistBytes` of entries to persist and
   * `maxApplyBytes` of committed entries (at least one entry each); returns what the Ready
   * carries and its token. Committed entries are only durable ones (see `applicableTo`): the
   * shell applies them at once, whatever is still in flight.
   */
  beginReady(maxPersistBytes = Infinity, maxApplyBytes = Infinity): {
    entries: Entry[]; committed: Entry[]; truncateFrom: number | null; token: ReadyToken
  } {
    const applyTo = this.applicableTo()
    const committed = applyTo > this.appliedIndex ? takeWithinBytes(this.slice(this.appliedIndex + 1, applyTo + 1), maxApplyBytes) : []
    const snapshot = this.pendingSnapshot
    const unstable = this.handedOutTo < this.lastIndex() ? this.slice(this.handedOutTo + 1, this.lastIndex() + 1) : []
    const entries = takeWithinBytes(unstable, maxPersistBytes)
    const truncateFrom = this.pendingTruncateFrom
    const token: ReadyToken = { lastEntryIndex: entries.at(-1)?.index ?? null, snapshot, cutFrom: Infinity }
    this.handedOutTo = token.lastEntryIndex ?? this.handedOutTo
    this.appliedIndex = committed.at(-1)?.index ?? this.appliedIndex
    if (snapshot !== null) this.snapshotsInFlight++
    this.pendingSnapshot = null
    this.pendingTruncateFrom = null
    this.inFlight.push(token)
    return { entries, committed, truncateFrom, token }
  }

  /** The shell made the Ready of `token` durable; tokens come back in hand-out order. */
  endReady(token: ReadyToken): void {
    assert(this.inFlight[0] === token, 'a Ready advanced out of hand-out order')
    this.inFlight.shift()
    if (token.snapshot !== null) {
      this.snapshotsInFlight--
      this.durableTo = Math.max(this.durableTo, token.snapshot.index)
      // The shell restored it before advancing.
      this.appliedIndex = Math.max(this.appliedIndex, token.snapshot.index)
    }
    if (token.lastEntryIndex !== null) {
      const durable = Math.min(token.lastEntryIndex, token.cutFrom - 1)
      this.durableTo = Math.max(this.durableTo, Math.min(durable, this.handedOutTo))
    }
  }

  /** Checks the log's own invariants; throws InvariantError. */
  checkInvariants(): void {
    assert(this.commitIndex <= this.lastIndex(), `commit ${this.commitIndex} > last index ${this.lastIndex()}`)
    assert(this.appliedIndex <= this.commitIndex, `applied ${this.appliedIndex} > commit ${this.commitIndex}`)
    // Only durable entries are handed out to apply, and cuts never reach committed entries.
    assert(this.appliedIndex <= this.durableTo, `applied ${this.appliedIndex} > durable ${this.durableTo}`)
    assert(this.snapshotIndex <= this.commitIndex, `snapshot ${this.snapshotIndex} > commit ${this.commitIndex}`)
    let restoring = this.pendingSnapshot?.index ?? 0
    let snapshots = 0
    for (const token of this.inFlight) {
      if (token.snapshot !== null) {
        snapshots++
        restoring = Math.max(restoring, token.snapshot.index)
      }
      // What an advance may count durable was handed out and not cut since.
      const durable = Math.min(token.lastEntryIndex ?? 0, token.cutFrom - 1)
      assert(durable <= this.handedOutTo, `a Ready in flight would make ${durable} durable, beyond handed out ${this.handedOutTo}`)
    }
    assert(snapshots === this.snapshotsInFlight, `${this.snapshotsInFlight} snapshots counted in flight, ${snapshots} found`)
    assert(this.snapshotIndex <= Math.max(this.appliedIndex, restoring), 'entries compacted before being applied')
    assert(this.durableTo <= this.handedOutTo, `durable ${this.durableTo} > handed out ${this.handedOutTo}`)
    assert(this.handedOutTo <= this.lastIndex(), `handed out ${this.handedOutTo} > last index ${this.lastIndex()}`)
    const configs = this.entries.filter((e) => e.type === 'membership').map((e) => e.index)
    assert(configs.length === this.configIndexes.length && configs.every((i, k) => i === this.configIndexes[k]), 'membership entries mis-indexed')
    let previousTerm = this.snapshotTerm
    this.entries.forEach((e, i) => {
      assert(e.index === this.snapshotIndex + 1 + i, `log index gap at ${e.index}`)
      assert(e.term >= previousTerm, `log term decreases at ${e.index}`)
      previousTerm = e.term
    })
  }
}
