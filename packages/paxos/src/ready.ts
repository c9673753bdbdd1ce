import { assert, takeWithinBytes, type Entry, type HardState, type Ready } from '@kv/consensus'
import { countOwnAcceptance } from './leader.js'
import { flushReplication } from './replication.js'
import type { PaxosState } from './state.js'
import { countOwnPromise } from './view-change.js'

/**
 * Turning pending work into a `Ready`, and the shell's acknowledgement into progress.
 * The ordering rules themselves are documented on the `Ready` type in @kv/consensus.
 */

/** `commit` is the watermark this Ready may make durable (see `buildReady`). */
function hardStateToPersist(s: PaxosState, commit: number): HardState | null {
  const persisted = s.persistedHardState
  if (persisted !== null && persisted.term === s.promisedBallot && persisted.commit === commit) {
    return null
  }
  if (persisted === null && s.promisedBallot === 0 && commit === 0) return null
  return { term: s.promisedBallot, vote: null, commit }
}

/** Chosen slots not yet handed out, up to `upTo` and maxApplyBytesPerReady of them: gap-free,
 * so nothing is applied past a hole. */
function committedToHandOut(s: PaxosState, upTo: number): Entry[] {
  if (upTo <= s.handedOut) return []
  const committed = takeWithinBytes(s.log.range(s.handedOut + 1, upTo), s.options.maxApplyBytesPerReady)
  s.handedOut = committed.at(-1)?.index ?? s.handedOut
  return committed
}

export function buildReady(s: PaxosState): Ready | null {
  assert(s.inflightReady === null, 'ready() called again before advance()')
  flushReplication(s)
  // At most maxPersistBytesPerReady of slots to persist; the rest waits for the next Ready.
  // Until it is durable, nothing that depends on it may be: the watermark persisted and the
  // slots applied stop below the first slot left, and acknowledgements wait.
  const pending = [...s.out.entries.values()].sort((a, b) => a.index - b.index)
  const entries = takeWithinBytes(pending, s.options.maxPersistBytesPerReady)
  const left = pending.slice(entries.length)
  const durableTo = Math.min(s.commitIndex, (left[0]?.index ?? Infinity) - 1)
  const hardState = hardStateToPersist(s, durableTo)
  if (s.out.isEmpty() && hardState === null && s.commitIndex <= s.handedOut) return null
  const ready: Ready = {
    hardState,
    snapshot: s.out.snapshot,
    truncateFrom: null,
    entries,
    messagesNow: s.out.messagesNow,
    messagesAfterPersist: left.length === 0 ? s.out.messagesAfterPersist : [],
    committed: committedToHandOut(s, durableTo),
    readStates: s.out.readStates,
  }
  const heldBack = left.length === 0 ? [] : s.out.messagesAfterPersist
  s.out.clear()
  for (const entry of left) s.out.persist(entry)
  s.out.messagesAfterPersist = heldBack
  s.inflightReady = ready
  return ready
}

export function advanceReady(s: PaxosState, ready: Ready): void {
  assert(ready === s.inflightReady, 'advance() of a Ready that is not the one in flight')
  s.inflightReady = null
  if (ready.hardState !== null) s.persistedHardState = ready.hardState
  const lastCommitted = ready.committed.at(-1)?.index ?? 0
  s.appliedIndex = Math.max(s.appliedIndex, lastCommitted, ready.snapshot?.index ?? 0)
  countOwnPromise(s, ready)
  countOwnAcceptance(s, ready)
}
