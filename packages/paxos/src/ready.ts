import { assert, entryBytes, takeWithinBytes, type Entry, type HardState, type Ready } from '@kv/consensus'
import { countOwnAcceptance } from './leader.js'
import { flushReplication } from './replication.js'
import type { PaxosState } from './state.js'
import { countOwnPromise } from './view-change.js'

/**
 * Turning pending work into a `Ready`, and the shell's acknowledgement into progress.
 * The ordering rules themselves are documented on the `Ready` type in @kv/consensus; several
 * Readys may be in flight (`s.inflight`), advanced in the order they were handed out.
 */

/** `commit` is the watermark this Ready may make durable (see `buildReady`). Compared with
 * the hard state last handed out: a Ready in flight already carries that one. */
function hardStateToPersist(s: PaxosState, commit: number): HardState | null {
  const handedOut = s.handedOutHardState
  if (handedOut !== null && handedOut.term === s.promisedBallot && handedOut.commit === commit) {
    return null
  }
  if (handedOut === null && s.promisedBallot === 0 && commit === 0) return null
  return { term: s.promisedBallot, vote: null, commit }
}

/**
 * Chosen slots not yet handed out, up to maxApplyBytesPerReady of them: gap-free (nothing is
 * applied past a hole), durable here (nothing is applied that a restart could not find again),
 * and none while a snapshot waits to be restored by the shell (it comes first).
 */
function committedToHandOut(s: PaxosState): Entry[] {
  if (s.out.snapshot !== null || s.snapshotsInFlight > 0) return []
  const committed: Entry[] = []
  let bytes = 0
  for (let slot = s.handedOut + 1; slot <= s.commitIndex && s.unsynced.isDurable(slot); slot++) {
    const entry = s.log.get(slot)
    assert(entry !== undefined, () => `no entry at chosen slot ${slot}`)
    bytes += entryBytes(entry)
    if (committed.length > 0 && bytes > s.options.maxApplyBytesPerReady) break
    committed.push(entry)
  }
  s.handedOut = committed.at(-1)?.index ?? s.handedOut
  s.appliedIndex = Math.max(s.appliedIndex, s.handedOut)
  return committed
}

export function buildReady(s: PaxosState): Ready | null {
  assert(s.inflight.length < s.options.maxReadysInFlight, () => `ready() called with ${s.inflight.length} Readys in flight`)
  flushReplication(s)
  const committed = committedToHandOut(s)
  // At most maxPersistBytesPerReady of slots to persist; the rest waits for the next Ready.
  // Until it is durable, nothing that depends on it may be: the watermark persisted stops
  // below the first slot left, and acknowledgements wait.
  const pending = [...s.out.entries.values()].sort((a, b) => a.index - b.index)
  const entries = takeWithinBytes(pending, s.options.maxPersistBytesPerReady)
  const left = pending.slice(entries.length)
  const watermark = Math.min(s.commitIndex, (left[0]?.index ?? Infinity) - 1)
  const hardState = hardStateToPersist(s, watermark)
  if (s.out.isEmpty() && hardState === null && committed.length === 0) return null
  const ready: Ready = {
    hardState,
    snapshot: s.out.snapshot,
    truncateFrom: null,
    entries,
    messagesNow: s.out.messagesNow,
    messagesAfterPersist: left.length === 0 ? s.out.messagesAfterPersist : [],
    committed,
    readStates: s.out.readStates,
  }
  const heldBack = left.length === 0 ? [] : s.out.messagesAfterPersist
  s.out.clear()
  for (const entry of left) s.out.persist(entry)
  s.out.messagesAfterPersist = heldBack
  if (hardState !== null) s.handedOutHardState = hardState
  if (ready.snapshot !== null) s.snapshotsInFlight += 1
  s.readySeq += 1
  s.unsynced.handedOut(entries, s.readySeq)
  s.inflight.push({ ready, seq: s.readySeq })
  return ready
}

export function advanceReady(s: PaxosState, ready: Ready): void {
  const oldest = s.inflight[0]
  assert(oldest !== undefined && oldest.ready === ready, 'advance() of a Ready that is not the oldest in flight')
  s.inflight.shift()
  s.unsynced.persisted(ready.entries, oldest.seq)
  if (ready.snapshot !== null) {
    s.snapshotsInFlight -= 1
    // The shell restored it before advancing.
    s.appliedIndex = Math.max(s.appliedIndex, ready.snapshot.index)
  }
  countOwnPromise(s, ready)
  countOwnAcceptance(s, ready)
}
