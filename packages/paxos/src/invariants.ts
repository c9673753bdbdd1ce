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
    for (const slot of leader.votes.keys()) assert(slot > s.commitIndex, () => `decided slot ${slot} still voting`)
    checkReplication(s, leader)
  }
  assert((s.role === 'pre-candidate') === (s.preCandidate !== null), 'pre-candidate role without its state')
  if (s.candidate !== null) assert(s.candidate.ballot === s.promisedBallot, 'candidate ballot != promise')
}
