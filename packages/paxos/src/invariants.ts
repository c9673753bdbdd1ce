import { assert } from '@kv/consensus'
import { checkReplication } from './replication.js'
import type { PaxosState } from './state.js'

/** Cheap enough to run after every step (the simulator does). */
export function checkInvariants(s: PaxosState): void {
  const { log } = s
  assert(s.commitIndex >= log.snapshotIndex, 'the chosen watermark is below the snapshot')
  assert(s.commitIndex <= log.lastIndex, () => `commit ${s.commitIndex} > last slot ${log.lastIndex}`)
  assert(s.appliedIndex <= s.handedOut, 'applied more than was handed out')
  assert(s.handedOut <= s.commitIndex, 'handed out past the chosen watermark')
  checkPipeline(s)
  // Slots up to `handedOut` were checked when handed out; only the rest can hide a hole.
  for (let slot = Math.max(log.firstIndex, s.handedOut + 1); slot <= s.commitIndex; slot++) {
    assert(log.get(slot) !== undefined, () => `hole at slot ${slot}, below the chosen watermark ${s.commitIndex}`)
  }
  // "Paxos Made Simple" P1a: accept a ballot only if no higher one was promised.
  assert(log.highestBallot <= s.promisedBallot, () => `accepted at ${log.highestBallot} > promise ${s.promisedBallot}`)
  const leader = s.proposer
  assert((s.role === 'leader') === (leader !== null), 'leader role without leader state')
  assert((s.role === 'candidate') === (s.candidate !== null), 'candidate role without candidate state')
  if (leader !== null) {
    assert(leader.ballot === s.promisedBallot, () => `leader ballot ${leader.ballot} != promise ${s.promisedBallot}`)
    assert(s.leader === s.id, 'a leader that does not know it leads')
    assert(leader.nextSlot > s.commitIndex, 'next slot at or below the chosen watermark')
    for (const [slot, votes] of leader.votes) {
      assert(slot > s.commitIndex, () => `decided slot ${slot} still voting`)
      // The alpha rule: nothing proposed past α slots beyond the chosen prefix (window.ts).
      assert(slot <= s.commitIndex + s.options.alpha, () => `slot ${slot} proposed past the window (chosen ${s.commitIndex}, α ${s.options.alpha})`)
      // The leader's own acceptance counts only once it is durable (after advance).
      assert(!votes.has(s.id) || s.unsynced.isDurable(slot), () => `the leader counts its own acceptance of slot ${slot} before it is durable`)
    }
    const waiting = leader.waiting
    for (let i = 0; i < waiting.length; i++) {
      const slot = waiting[i]!.index
      assert(!leader.votes.has(slot) && slot < leader.nextSlot, () => `waiting slot ${slot} was proposed or not taken`)
      assert(i === 0 || slot > waiting[i - 1]!.index, 'waiting slots out of order')
    }
    assert(leader.changeSlot === null || leader.changeSlot > s.commitIndex, 'a chosen change still pending')
    checkReplication(s, leader)
  }
  assert((s.role === 'pre-candidate') === (s.preCandidate !== null), 'pre-candidate role without its state')
  assert(s.configs.scannedTo >= s.commitIndex, 'a chosen slot not looked at for membership changes')
  if (s.candidate !== null) assert(s.candidate.ballot === s.promisedBallot, 'candidate ballot != promise')
}

/** The Ready pipeline's bookkeeping: what is in flight, and which writes wait for which Ready. */
function checkPipeline(s: PaxosState): void {
  const { inflight } = s
  assert(inflight.length <= s.options.maxReadysInFlight, () => `${inflight.length} Readys in flight, above ${s.options.maxReadysInFlight}`)
  let snapshots = 0
  for (let i = 0; i < inflight.length; i++) {
    const { ready, seq } = inflight[i]!
    assert(seq === s.readySeq - inflight.length + 1 + i, () => `Ready ${seq} in flight out of order`)
    if (ready.snapshot !== null) snapshots += 1
  }
  assert(snapshots === s.snapshotsInFlight, () => `${s.snapshotsInFlight} snapshots counted in flight, ${snapshots} found`)
  const oldest = s.readySeq - inflight.length + 1
  for (const [slot, seq] of s.unsynced.entries()) {
    // A write waits in the outbox (0) or for a Ready still in flight, never for one advanced.
    if (seq === 0) assert(s.out.entries.has(slot), () => `slot ${slot} waits in the outbox but is not there`)
    else assert(seq >= oldest && seq <= s.readySeq, () => `slot ${slot} waits for Ready ${seq}, not in flight`)
  }
  const handedOut = s.handedOutHardState
  if (handedOut !== null) assert(handedOut.term <= s.promisedBallot, () => `hard state handed out at ${handedOut.term} above the promise ${s.promisedBallot}`)
}
