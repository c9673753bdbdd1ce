import { isVoter, type NodeId } from '@kv/consensus'
import type { PreVote, PreVoteResponse, RequestVote, RequestVoteResponse } from './messages.js'
import type { RaftNode } from './raft.js'
import { becomeCandidate, becomeFollower, becomeLeader, becomePreCandidate } from './roles.js'

/** `transfer`: started by TimeoutNow (thesis §3.10): no pre-vote, and voters skip the lease. */
export type CampaignKind = 'pre-vote' | 'election' | 'transfer'

type Tally = 'won' | 'lost' | 'pending'

/** Thesis §4.2.3 / §6.2: with CheckQuorum, a node that heard from a live leader within an
 * election timeout believes the leader still holds its lease and refuses to elect another. */
export function isInLease(r: RaftNode): boolean {
  return r.options.checkQuorum && r.leader !== null && r.electionElapsed < r.config.electionTimeoutTicks
}

export function campaign(r: RaftNode, kind: CampaignKind): void {
  if (kind === 'pre-vote') becomePreCandidate(r)
  else becomeCandidate(r)
  if (recordVote(r, r.id, true) === 'won') {
    onElectionWon(r, kind)
    return
  }
  const lastLogIndex = r.log.lastIndex()
  const lastLogTerm = r.log.lastTerm()
  // Only voters are asked: a learner's answer would not count (thesis §4.2.1).
  for (const to of r.voterPeers) {
    if (kind === 'pre-vote') {
      // Thesis §9.6: ask for the term we would use; promises nothing, so no need to persist.
      r.send({ type: 'PreVote', to, term: r.term + 1, lastLogIndex, lastLogTerm }, 'now')
    } else {
      // Our new term and self-vote must be durable before anyone acts on them (Raft §5.2).
      r.send({ type: 'RequestVote', to, lastLogIndex, lastLogTerm, transfer: kind === 'transfer' }, 'afterPersist')
    }
  }
}

function onElectionWon(r: RaftNode, kind: CampaignKind): void {
  if (kind === 'pre-vote') campaign(r, 'election')
  else becomeLeader(r)
}

/** Counts the answers of the current voters only: the configuration may have changed since
 * the campaign began (an entry appended or cut), and a non-voter's answer never counts. */
function recordVote(r: RaftNode, from: NodeId, granted: boolean): Tally {
  if (!r.votes.has(from)) r.votes.set(from, granted)
  let grants = 0
  let refusals = 0
  for (const [id, g] of r.votes) {
    if (!isVoter(r.membership, id)) continue
    if (g) grants++
    else refusals++
  }
  if (grants >= r.quorum) return 'won'
  if (r.membership.voters.length - refusals < r.quorum) return 'lost'
  return 'pending'
}

/** Raft §5.2 and §5.4.1 (vote only for a log at least as up to date), thesis §9.6 (pre-vote). */
export function onVoteRequest(r: RaftNode, m: PreVote | RequestVote): void {
  const canVote =
    r.vote === m.from ||
    (r.vote === null && r.leader === null) ||
    (m.type === 'PreVote' && m.term > r.term)
  const granted = canVote && r.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)
  if (m.type === 'PreVote') {
    r.send({ type: 'PreVoteResponse', to: m.from, term: granted ? m.term : r.term, granted }, 'now')
    return
  }
  if (granted) {
    r.vote = m.from
    r.electionElapsed = 0
  }
  // A granted vote must be on disk before the candidate hears of it.
  r.send({ type: 'RequestVoteResponse', to: m.from, granted }, 'afterPersist')
}

export function onVoteResponse(r: RaftNode, m: PreVoteResponse | RequestVoteResponse): void {
  if (m.type === 'PreVoteResponse') {
    if (r.role !== 'pre-candidate') return
    // A grant carries the term we asked for; a refusal carries the voter's (our) term.
    if (m.term !== (m.granted ? r.term + 1 : r.term)) return
  } else if (r.role !== 'candidate') {
    return
  }
  const tally = recordVote(r, m.from, m.granted)
  if (tally === 'won') onElectionWon(r, m.type === 'PreVoteResponse' ? 'pre-vote' : 'election')
  else if (tally === 'lost') becomeFollower(r, r.term, null)
}
