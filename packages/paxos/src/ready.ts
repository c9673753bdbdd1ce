import { assert, type Entry, type HardState, type Ready } from '@kv/consensus'
import { countOwnAcceptance } from './leader.js'
import { flushReplication } from './replication.js'
import type { PaxosState } from './state.js'
import { countOwnPromise } from './view-change.js'

/**
 * Turning pending work into a `Ready`, and the shell's acknowledgement into progress.
 * The ordering rules themselves are documented on the `Ready` type in @kv/consensus.
 */

function hardStateToPersist(s: PaxosState): HardState | null {
  const persisted = s.persistedHardState
  if (persisted !== null && persisted.term === s.promisedBallot && persisted.commit === s.commitIndex) {
    return null
  }
  if (persisted === null && s.promisedBallot === 0 && s.commitIndex === 0) return null
  return { term: s.promisedBallot, vote: null, commit: s.commitIndex }
}

/** Chosen slots not yet handed out: gap-free, so nothing is applied past a hole. */
function committedToHandOut(s: PaxosState): Entry[] {
  if (s.commitIndex <= s.handedOut) return []
  const committed = s.log.range(s.handedOut + 1, s.commitIndex)
  s.handedOut = s.commitIndex
  return committed
}

export function buildReady(s: PaxosState): Ready | null {
  assert(s.inflightReady === null, 'ready() called again before advance()')
  flushReplication(s)
  const hardState = hardStateToPersist(s)
  if (s.out.isEmpty() && hardState === null && s.commitIndex <= s.handedOut) return null
  const ready: Ready = {
    hardState,
    snapshot: s.out.snapshot,
    truncateFrom: null,
    entries: [...s.out.entries.values()].sort((a, b) => a.index - b.index),
    messagesNow: s.out.messagesNow,
    messagesAfterPersist: s.out.messagesAfterPersist,
    committed: committedToHandOut(s),
    readStates: s.out.readStates,
  }
  s.out.clear()
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
