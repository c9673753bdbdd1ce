import { assert } from '@kv/consensus'
import type { RaftNode } from './raft.js'

/** Cheap checks of the node's state; throws InvariantError (see `ConsensusCore.checkInvariants`). */
export function checkInvariants(r: RaftNode): void {
  r.log.checkInvariants()
  assert(r.readysInFlight() <= r.options.maxReadysInFlight, `${r.readysInFlight()} Readys in flight, above ${r.options.maxReadysInFlight}`)
  assert(r.log.readysInFlight() === r.readysInFlight(), 'the log and the node disagree on the Readys in flight')
  const lastTerm = r.log.lastTerm()
  // Entries are written under a term no newer than the writer's; we adopted that term.
  assert(lastTerm <= r.term, `last log term ${lastTerm} above current term ${r.term}`)
  assert(r.vote === null || r.memberSet.has(r.vote), `vote for a non-member ${r.vote}`)
  assert(r.leader === null || r.memberSet.has(r.leader), `leader ${r.leader} is not a member`)
  switch (r.role) {
    case 'leader':
      checkLeader(r)
      break
    case 'candidate':
      assert(r.vote === r.id, 'a candidate votes for itself')
      assert(r.leader === null, 'a candidate knows no leader')
      break
    case 'pre-candidate':
      assert(r.leader === null, 'a pre-candidate knows no leader')
      break
    case 'follower':
      assert(r.leader !== r.id, 'a follower names itself leader')
      break
  }
  const assembling = r.snapshotAssembly.assembling
  assert(assembling === null || assembling.origin === r.term, `a snapshot assembled from term ${assembling?.origin} in term ${r.term}`)
  if (r.role !== 'leader') {
    assert(r.transferee === null, 'only a leader transfers leadership')
    assert(r.reads.size() === 0, 'only a leader holds pending reads')
    assert(r.progress.size === 0, 'only a leader tracks progress')
  }
}

function checkLeader(r: RaftNode): void {
  assert(r.leader === r.id, 'a leader names itself leader')
  assert(r.vote === r.id, 'a leader voted for itself in its term')
  assert(r.log.lastTerm() === r.term, 'a leader has appended an entry of its term')
  assert(r.progress.size === r.peers.length, 'a leader tracks every follower')
  const lastIndex = r.log.lastIndex()
  // Raft §5.3 with durable counting: an entry of our term is committed only once a quorum
  // holds it durably, our own copy counted from `durableTo` (advanced Readys), never earlier.
  if (r.log.term(r.log.commitIndex) === r.term) {
    const matches = [r.log.durableTo, ...[...r.progress.values()].map((pr) => pr.matchIndex)].sort((a, b) => b - a)
    const quorumIndex = matches[r.quorum - 1] ?? 0
    assert(r.log.commitIndex <= quorumIndex, `commit ${r.log.commitIndex} above what a quorum holds durably (${quorumIndex})`)
  }
  for (const [peer, pr] of r.progress) {
    assert(pr.matchIndex < pr.nextIndex, `${peer}: matchIndex ${pr.matchIndex} ≥ nextIndex ${pr.nextIndex}`)
    assert(pr.nextIndex <= lastIndex + 1, `${peer}: nextIndex ${pr.nextIndex} beyond the log`)
    assert(pr.inflight.length <= r.config.maxInflightMessages, `${peer}: too many messages in flight`)
    assert((pr.state === 'snapshot') === (pr.transfer !== null), `${peer}: a snapshot transfer outside snapshot state`)
  }
}
