import {
  assert,
  hasQuorum,
  initialMembership,
  isVoter,
  membersOf,
  quorumOf,
  SnapshotAssembly,
  unreachable,
  type ConsensusCore,
  type CoreConfig,
  type HardState,
  type Membership,
  type MembershipChange,
  type NodeId,
  type NotLeader,
  type PeerMessage,
  type ProposeMembershipResult,
  type ProposeResult,
  type ReadState,
  type Ready,
  type Role,
  type Snapshot,
  type Status,
} from '@kv/consensus'
import { campaign, isInLease, onVoteRequest, onVoteResponse } from './election.js'
import { checkInvariants } from './invariants.js'
import { checkConfig, type RaftOptions } from './limits.js'
import { RaftLog, type ReadyToken } from './log.js'
import { proposeMembership, stepDownIfRemoved, syncProgress } from './membership.js'
import { parseRaftMessage, type RaftMessage, type RaftMessageType } from './messages.js'
import type { Progress } from './progress.js'
import { flushReads, ReadIndexQueue, requestRead } from './read-index.js'
import {
  broadcastHeartbeat,
  flushAppends,
  maybeCommit,
  onAppendEntries,
  onAppendEntriesResponse,
  onCommitAdvanced,
  onHeartbeat,
  onHeartbeatResponse,
} from './replication.js'
import { becomeFollower } from './roles.js'
import { onInstallSnapshot, onInstallSnapshotResponse } from './snapshot.js'
import { abortTransfer, onTimeoutNow, startTransfer } from './transfer.js'

/** Where a message waits in the Ready: see the shell's duties on `Ready`. */
export type SendWhen = 'now' | 'afterPersist'

type Outgoing<M> = M extends RaftMessage ? Omit<M, 'from' | 'term'> & { readonly term?: number } : never

/**
 * One Raft replica (Raft paper, extended with the thesis's PreVote, CheckQuorum, ReadIndex
 * and leadership transfer). The protocol lives in election.ts, replication.ts, snapshot.ts,
 * read-index.ts and transfer.ts, as functions of this state; this class is the
 * `ConsensusCore` face: the gateway for messages, the clock, and the Ready cycle.
 */
export class RaftNode implements ConsensusCore {
  readonly id: NodeId
  /**
   * The configuration this node acts on (thesis §4.1): the latest membership entry in its
   * log, committed or not, else its snapshot's, else `CoreConfig.members`. It changes when
   * such an entry is appended and reverts when the entry is truncated (`syncMembership`).
   */
  membership: Membership
  /** Ids ever admitted (the roster): messages from anyone else are dropped at the gateway. */
  rosterSet: ReadonlySet<NodeId> = new Set()
  /** Voters and learners other than this node: whom a leader replicates to. */
  peers: readonly NodeId[] = []
  /** Voters other than this node: whom a candidate asks for votes. */
  voterPeers: readonly NodeId[] = []
  readonly options: RaftOptions
  readonly log: RaftLog
  readonly reads: ReadIndexQueue
  /** Follower: the leader's snapshot, while its chunks arrive (one at a time). */
  readonly snapshotAssembly = new SnapshotAssembly()

  term = 0
  vote: NodeId | null = null
  leader: NodeId | null = null
  role: Role = 'follower'
  electionElapsed = 0
  heartbeatElapsed = 0
  /** Ticks counted while leader: the clock of CheckQuorum. */
  leaderTicks = 0
  randomizedElectionTimeout = 0
  readonly votes = new Map<NodeId, boolean>()
  progress = new Map<NodeId, Progress>()
  transferee: NodeId | null = null
  transferElapsed = 0
  /** Entries were appended (or commit advanced) since the last flush to followers. */
  appendsPending = false
  commitPending = false

  messagesNow: RaftMessage[] = []
  messagesAfterPersist: RaftMessage[] = []
  readStates: ReadState[] = []
  /** The hard state last handed out (written by the Readys in flight, or already durable). */
  private lastHardState: HardState
  /** Readys handed out and not yet advanced, oldest first (at most `options.maxReadysInFlight`). */
  private readonly inFlight: Array<{ readonly ready: Ready; readonly token: ReadyToken }> = []

  constructor(readonly config: CoreConfig) {
    this.options = checkConfig(config)
    this.id = config.id
    this.log = RaftLog.restore(config.persisted, initialMembership(config.members))
    this.membership = this.log.membership()
    this.applyMembership()
    this.reads = new ReadIndexQueue(this.id, (acks) => hasQuorum(this.membership, acks))
    const hardState = config.persisted?.hardState ?? null
    if (hardState !== null) {
      this.term = hardState.term
      this.vote = hardState.vote
    }
    this.lastHardState = { term: this.term, vote: this.vote, commit: this.log.commitIndex }
    becomeFollower(this, this.term, null)
  }

  /** Raft §5.2: a majority of the voters. */
  get quorum(): number {
    return quorumOf(this.membership)
  }

  /** This node votes in its current configuration (learners and removed nodes do not). */
  isVoter(): boolean {
    return isVoter(this.membership, this.id)
  }

  /** Thesis §4.1: the configuration is the latest in the log. Called after anything that may
   * append or cut a membership entry (a step, a proposal, a snapshot). */
  syncMembership(): void {
    const latest = this.log.membership()
    if (latest === this.membership) return
    this.membership = latest
    this.applyMembership()
    // A node that is no voter any more stops campaigning at once.
    if ((this.role === 'candidate' || this.role === 'pre-candidate') && !this.isVoter()) becomeFollower(this, this.term, null)
    if (this.role === 'leader') syncProgress(this)
  }

  private applyMembership(): void {
    const m = this.membership
    this.rosterSet = new Set(m.roster)
    this.peers = membersOf(m).filter((id) => id !== this.id)
    this.voterPeers = m.voters.filter((id) => id !== this.id)
  }

  /**
   * The gateway's check of a sender: anyone ever admitted (a removed leader keeps leading
   * until its removal commits, and followers must hear it). A leader's message from an id we
   * do not know comes from a replica admitted after what our log holds: hearing it is how we
   * catch up (terms and logs keep it safe). A node not in its own roster (a brand-new replica
   * that has not learned its group yet) hears anyone: it can only learn.
   */
  knows(from: NodeId, type: RaftMessageType): boolean {
    if (this.rosterSet.has(from) || !this.rosterSet.has(this.id)) return true
    return type === 'AppendEntries' || type === 'Heartbeat' || type === 'InstallSnapshot'
  }

  /** Queues a message from this node; `term` defaults to the current term. */
  send(message: Outgoing<RaftMessage>, when: SendWhen): void {
    const full = { term: this.term, ...message, from: this.id } as RaftMessage
    if (when === 'now') this.messagesNow.push(full)
    else this.messagesAfterPersist.push(full)
  }

  resetRandomizedElectionTimeout(): void {
    const base = this.config.electionTimeoutTicks
    this.randomizedElectionTimeout = base + Math.min(base - 1, Math.floor(this.config.random() * base))
  }

  tick(): void {
    if (this.role === 'leader') this.tickLeader()
    else this.tickElection()
  }

  private tickElection(): void {
    this.electionElapsed++
    if (this.electionElapsed < this.randomizedElectionTimeout) return
    this.electionElapsed = 0
    // Learners and removed nodes never campaign (thesis §4.2.1, §4.2.3).
    if (!this.isVoter()) return
    campaign(this, this.options.preVote ? 'pre-vote' : 'election')
  }

  private tickLeader(): void {
    this.leaderTicks++
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.transferee !== null && ++this.transferElapsed >= this.config.electionTimeoutTicks) abortTransfer(this)
    // Thesis §6.2 (CheckQuorum): a leader cut off from a quorum for an election timeout
    // steps down, so that its clients are redirected and reads fail instead of waiting.
    if (this.options.checkQuorum && !this.heardFromQuorum()) {
      becomeFollower(this, this.term, null)
      return
    }
    // The leader's own lease (isInLease) runs in election timeout periods.
    if (this.electionElapsed >= this.config.electionTimeoutTicks) this.electionElapsed = 0
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0
      broadcastHeartbeat(this)
    }
  }

  /** CheckQuorum counts the current voters only (a leader being removed does not count itself). */
  private heardFromQuorum(): boolean {
    const active = [this.id]
    for (const [peer, pr] of this.progress) {
      if (this.leaderTicks - pr.lastHeardTick < this.config.electionTimeoutTicks) active.push(peer)
    }
    return hasQuorum(this.membership, active)
  }

  step(raw: PeerMessage): void {
    const m = parseRaftMessage(raw, this.id, (from, type) => this.knows(from, type))
    if (m === null) return
    if (m.term > this.term) {
      if (this.onHigherTerm(m)) this.dispatch(m)
    } else if (m.term < this.term) {
      this.onLowerTerm(m)
    } else {
      this.dispatch(m)
    }
    this.afterEvent()
  }

  /** What an appended, cut or committed membership entry changes, after any event. */
  private afterEvent(): void {
    this.syncMembership()
    stepDownIfRemoved(this)
  }

  /** Raft §5.1: a higher term makes us a follower; returns false to drop the message. */
  private onHigherTerm(m: RaftMessage): boolean {
    if (m.type === 'PreVote' || m.type === 'RequestVote') {
      // Thesis §4.2.3: while a leader is live, a vote request is a disruption; ignore it
      // unless the leader itself handed over (TimeoutNow).
      const forced = m.type === 'RequestVote' && m.transfer
      if (!forced && isInLease(this)) return false
    }
    // Thesis §9.6: a pre-vote changes no one's term; a granted one answers with the term
    // the candidate would use, which it adopts only when it campaigns for real.
    if (m.type === 'PreVote' || (m.type === 'PreVoteResponse' && m.granted)) return true
    const fromLeader = m.type === 'AppendEntries' || m.type === 'Heartbeat' || m.type === 'InstallSnapshot'
    becomeFollower(this, m.term, fromLeader ? m.from : null)
    return true
  }

  private onLowerTerm(m: RaftMessage): void {
    const fromLeader = m.type === 'AppendEntries' || m.type === 'Heartbeat' || m.type === 'InstallSnapshot'
    if (fromLeader && (this.options.checkQuorum || this.options.preVote)) {
      // A deposed leader that nobody answers would never learn the new term when our
      // elections bypass it (lease, pre-vote); tell it, so it steps down.
      this.send(
        { type: 'AppendEntriesResponse', to: m.from, success: false, matchIndex: 0, rejectedIndex: 0, hintIndex: 0, hintTerm: 0 },
        'afterPersist',
      )
    } else if (m.type === 'PreVote') {
      this.send({ type: 'PreVoteResponse', to: m.from, granted: false }, 'now')
    }
  }

  private dispatch(m: RaftMessage): void {
    switch (m.type) {
      case 'PreVote':
      case 'RequestVote':
        return onVoteRequest(this, m)
      case 'PreVoteResponse':
      case 'RequestVoteResponse':
        return onVoteResponse(this, m)
      case 'AppendEntries':
        if (this.followLeader(m.from)) onAppendEntries(this, m)
        return
      case 'Heartbeat':
        if (this.followLeader(m.from)) onHeartbeat(this, m)
        return
      case 'InstallSnapshot':
        if (this.followLeader(m.from)) onInstallSnapshot(this, m)
        return
      // Answers of a replica the configuration no longer holds (removed since) are late: dropped.
      case 'AppendEntriesResponse':
        if (this.role === 'leader' && this.progress.has(m.from)) onAppendEntriesResponse(this, m)
        return
      case 'InstallSnapshotResponse':
        if (this.role === 'leader' && this.progress.has(m.from)) onInstallSnapshotResponse(this, m)
        return
      case 'HeartbeatResponse':
        if (this.role === 'leader' && this.progress.has(m.from)) onHeartbeatResponse(this, m)
        return
      case 'TimeoutNow':
        if (this.role === 'follower' && this.isVoter()) onTimeoutNow(this)
        return
      default:
        unreachable(m, 'raft message')
    }
  }

  /** A message of the current term from `from`'s leadership (Raft §5.2): it is the leader. */
  private followLeader(from: NodeId): boolean {
    // Election Safety (§5.2) makes a second leader in our term impossible; drop, not crash.
    if (this.role === 'leader') return false
    if (this.role !== 'follower') becomeFollower(this, this.term, from)
    this.leader = from
    this.electionElapsed = 0
    return true
  }

  propose(data: Uint8Array): ProposeResult {
    if (this.role !== 'leader') return this.notLeader()
    // Thesis §3.10: during a transfer new entries would only delay the target's catch-up.
    if (this.transferee !== null) return { type: 'not-leader', leader: this.transferee }
    const index = this.log.lastIndex() + 1
    this.log.append({ type: 'normal', index, term: this.term, data })
    this.appendsPending = true
    return { index, term: this.term }
  }

  proposeMembership(change: MembershipChange): ProposeMembershipResult {
    const result = proposeMembership(this, change)
    this.syncMembership()
    return result
  }

  readIndex(ctx: number): NotLeader | null {
    if (this.role !== 'leader') return this.notLeader()
    requestRead(this, ctx)
    return null
  }

  notLeader(): NotLeader {
    return { type: 'not-leader', leader: this.leader }
  }

  ready(): Ready | null {
    assert(this.inFlight.length < this.options.maxReadysInFlight, `ready() called with ${this.inFlight.length} Readys in flight`)
    if (this.role === 'leader') {
      flushAppends(this)
      flushReads(this)
    }
    const idle =
      !this.hardStateChanged(this.log.commitIndex) && !this.log.hasUnstable() && !this.log.hasCommittedToApply() &&
      this.messagesNow.length === 0 && this.messagesAfterPersist.length === 0 && this.readStates.length === 0
    if (idle) return null
    const { entries, committed, truncateFrom, token } = this.log.beginReady(
      this.options.maxPersistBytesPerReady, this.options.maxApplyBytesPerReady,
    )
    // Entries left for the next Ready (the byte bound): the durable commit may not reach past
    // what this Ready persists, and acknowledgements wait until the rest is durable too.
    const allHandedOut = !this.log.hasUnstable()
    const current: HardState = { term: this.term, vote: this.vote, commit: Math.min(this.log.commitIndex, this.log.handedOutTo) }
    const ready: Ready = {
      hardState: this.hardStateChanged(current.commit) ? current : null,
      snapshot: token.snapshot,
      truncateFrom,
      entries,
      messagesNow: this.messagesNow,
      messagesAfterPersist: allHandedOut ? this.messagesAfterPersist : [],
      committed,
      readStates: this.readStates,
    }
    this.messagesNow = []
    if (allHandedOut) this.messagesAfterPersist = []
    this.readStates = []
    this.lastHardState = current
    this.inFlight.push({ ready, token })
    return ready
  }

  private hardStateChanged(commit: number): boolean {
    const last = this.lastHardState
    return this.term !== last.term || this.vote !== last.vote || commit !== last.commit
  }

  advance(ready: Ready): void {
    const oldest = this.inFlight[0]
    assert(oldest !== undefined && oldest.ready === ready, 'advance() of a Ready that is not the oldest in flight')
    this.inFlight.shift()
    this.log.endReady(oldest.token)
    // Our own copy of the entries just became durable: only now does it count toward a
    // quorum (a leader that crashed before its write must not have been counted).
    if (this.role === 'leader' && maybeCommit(this)) onCommitAdvanced(this)
    stepDownIfRemoved(this)
  }

  status(): Status {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      leader: this.leader,
      commitIndex: this.log.commitIndex,
      lastIndex: this.log.lastIndex(),
      appliedIndex: this.log.appliedIndex,
      firstIndex: this.log.firstIndex(),
      membership: this.membership,
    }
  }

  compact(snapshot: Snapshot): void {
    this.log.compact(snapshot)
  }

  transferLeadership(to: NodeId): void {
    startTransfer(this, to)
  }

  /** Readys handed out and not yet advanced. */
  readysInFlight(): number {
    return this.inFlight.length
  }

  checkInvariants(): void {
    checkInvariants(this)
  }
}
