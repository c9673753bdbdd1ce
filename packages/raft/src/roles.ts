import { assert, type NodeId } from '@kv/consensus'
import { Progress } from './progress.js'
import type { RaftNode } from './raft.js'

/** Common to every role change: a new term forgets the vote (Raft §5.1, Figure 2). */
function reset(r: RaftNode, term: number): void {
  assert(term >= r.term, `term going back from ${r.term} to ${term}`)
  if (term !== r.term) {
    r.term = term
    r.vote = null
    // A snapshot half received from the old term's leader is dropped: the new leader sends its own.
    r.snapshotAssembly.clear()
  }
  r.leader = null
  r.electionElapsed = 0
  r.heartbeatElapsed = 0
  r.resetRandomizedElectionTimeout()
  r.votes.clear()
  r.transferee = null
  r.transferElapsed = 0
}

export function becomeFollower(r: RaftNode, term: number, leader: NodeId | null): void {
  if (r.role === 'leader') {
    // Thesis §6.4: a read confirmed by no one may not be served; the caller retries.
    r.readStates.push(...r.reads.failAll())
    r.progress = new Map()
    r.appendsPending = r.commitPending = false
  }
  reset(r, term)
  r.role = 'follower'
  r.leader = leader
}

/** Thesis §9.6: campaign without a new term until a majority says it would vote for us. */
export function becomePreCandidate(r: RaftNode): void {
  assert(r.role !== 'leader', 'a leader cannot become a pre-candidate')
  r.role = 'pre-candidate'
  r.leader = null
  r.votes.clear()
  r.resetRandomizedElectionTimeout()
}

/** Raft §5.2: increment the term and vote for ourselves. */
export function becomeCandidate(r: RaftNode): void {
  assert(r.role !== 'leader', 'a leader cannot become a candidate')
  reset(r, r.term + 1)
  r.vote = r.id
  r.role = 'candidate'
}

/**
 * Raft §5.2 and §8: the new leader appends a no-op of its term; committing it commits every
 * earlier entry (§5.4.2) and tells the leader its commitIndex is current (ReadIndex, §6.4).
 */
export function becomeLeader(r: RaftNode): void {
  assert(r.role === 'candidate', `${r.role} cannot become leader`)
  r.role = 'leader'
  r.leader = r.id
  r.electionElapsed = 0
  r.heartbeatElapsed = 0
  const nextIndex = r.log.lastIndex() + 1
  r.progress = new Map(r.peers.map((p) => [p, new Progress(nextIndex, r.config.maxInflightMessages, r.leaderTicks)]))
  r.log.append({ type: 'noop', index: nextIndex, term: r.term })
  r.appendsPending = true
}
