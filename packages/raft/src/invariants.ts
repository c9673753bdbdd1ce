import { assert } from '@kv/consensus'
import type { RaftNode } from './raft.js'
import { quorumMatches } from './replication.js'

/** Cheap checks of the node's state; throws InvariantError (see `ConsensusCore.checkInvariants`). */
export function checkInvariants(r: RaftNode): void {
  r.log.checkInvariants()
  assert(r.readysInFlight() <= r.options.maxReadysInFlight, `${r.readysInFlight()} Readys in flight, above ${r.options.maxReadysInFlight}`)
  assert(r.log.readysInFlight() === r.readysInFlight(), 'the log and the node disagree on the Readys in flight')
  const lastTerm = r.log.lastTerm()
  // Entries are written under a term no newer than the writer's; we adopted that term.
  assert(lastTerm <= r.term, `last log term ${lastTerm} above current term ${r.term}`)
  assert(r.membership === r.log.membership(), 'the configuration is not the latest in the log')
  // Learners and removed nodes never campaign (thesis §4.2.1).
  assert(r.isVoter() || (r.role !== 'candidate' && r.role !== 'pre-candidate'), `${r.role} ${r.id} is no voter`)
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
  assert(r.progress.size === r.peers.length && r.peers.every((p) => r.progress.has(p)), 'a leader tracks every follower and learner')
  // Thesis §4.1: one uncommitted change at a time, or a non-voter leader that has not seen it commit.
  assert(r.isVoter() || r.log.configIndex() > r.log.commitIndex, 'a removed leader leads past its removal')
  const lastIndex = r.log.lastIndex()
  // Raft §5.3 with durable counting: an entry of our term is committed only once a quorum
  // of voters holds it durably, our own copy counted from `durableTo` (advanced Readys),
  // never earlier, and only while we vote; learners never count.
  // While a change is uncommitted, entries committed under the previous voters need not be
  // held by a quorum of the new ones yet (thesis §4.1: the new configuration applies at once).
  if (r.log.term(r.log.commitIndex) === r.term && r.log.configIndex() <= r.log.commitIndex) {
    const quorumIndex = quorumMatches(r)[r.quorum - 1] ?? 0
    assert(r.log.commitIndex <= quorumIndex, `commit ${r.log.commitIndex} above what a quorum holds durably (${quorumIndex})`)
  }
  for (const [peer, pr] of r.progress) {
    assert(pr.matchIndex < pr.nextIndex, `${peer}: matchIndex ${pr.matchIndex} ≥ nextIndex ${pr.nextIndex}`)
    assert(pr.nextIndex <= lastIndex + 1, `${peer}: nextIndex ${pr.nextIndex} beyond the log`)
    assert(pr.inflight.length <= r.config.maxInflightMessages, `${peer}: too many messages in flight`)
    assert((pr.state === 'snapshot') === (pr.transfer !== null), `${peer}: a snapshot transfer outside snapshot state`)
  }
}
