import { SnapshotAssembly, type CoreConfig, type Entry, type HardState, type NodeId, type Ready, type Role, type SnapshotSender } from '@kv/consensus'
import { Configs } from './configs.js'
import type { ResolvedOptions } from './limits.js'
import { SlotLog } from './log.js'
import type { PaxosMessage } from './messages.js'
import { Outbox, type Unaddressed } from './outbox.js'
import { ReadBarrier } from './read-barrier.js'
import type { RetransmitTimer } from './retransmit.js'
import type { PromiseReport } from './recovery.js'
import { UnsyncedSlots } from './unsynced.js'

/** One Accept sent to an acceptor and not answered yet. */
export interface InflightAccept {
  /** Its slots, in slot order (an Accepted names exactly these). */
  readonly slots: readonly number[]
  /** The leader's tick (`LeaderState.ticks`) when this copy left. */
  readonly sentTick: number
  /** Copies sent so far (1: the original); a copy's answer measures no round trip. */
  readonly copies: number
}

/** What the leader knows about one acceptor's progress in phase 2 (per ballot). */
export interface PeerProgress {
  /** Next slot to consider sending in an Accept. */
  next: number
  /**
   * Accepts sent and not yet answered, oldest first (the pipelining window, at most
   * `maxInflightMessages`). Every undecided slot below `next` that the acceptor has not
   * accepted is in one of them, so resending them is all that a lost message needs.
   */
  inflight: InflightAccept[]
  /** When to give up waiting for an Accepted from this acceptor. */
  readonly retransmit: RetransmitTimer
  /** The tick this acceptor last answered at this ballot (any answer: the quorum check). */
  lastHeardTick: number
  /** The tick the last heartbeat to this acceptor left (a read round's is resent on timeout). */
  heartbeatSentTick: number
  /** A Learn or InstallSnapshot is on its way (one catch-up chain per replica). */
  learnOutstanding: boolean
  /** The snapshot this replica is being sent in chunks, while it is (see learner.ts). */
  snapshotTransfer: SnapshotSender | null
  /** Highest chosen watermark this acceptor was told. */
  commitSent: number
  /** Its own chosen watermark, as it last reported it (a learner is promoted once close). */
  reportedCommit: number
}

/** A node whose ballot is established (phase 1 done). */
export interface LeaderState {
  readonly ballot: number
  /** Ticks since this ballot was established (the clock of retransmissions). */
  ticks: number
  /** Next slot a new proposal may take. */
  nextSlot: number
  /**
   * Slots taken (`nextSlot` moved past them) but not proposed yet, in slot order: the alpha
   * rule lets the leader propose in slot j only once every slot up to j − α is chosen (see
   * window.ts). They go out as the watermark moves; nothing is written or sent before.
   */
  readonly waiting: Entry[]
  /** A membership entry proposed (or re-proposed by recovery) and not chosen yet: one at a time. */
  changeSlot: number | null
  /** Highest slot re-proposed by recovery; reads wait until it is chosen. */
  readonly recoveryThrough: number
  /** Acceptors that accepted each undecided slot at this ballot (the leader itself included
   * only once its own acceptance is durable). */
  readonly votes: Map<number, Set<NodeId>>
  readonly peers: Map<NodeId, PeerProgress>
  heartbeatElapsed: number
  /** Ticks since catch-up chains were last allowed to restart (see `tickLeader`). */
  catchUpElapsed: number
}

/** A node running phase 1 for `ballot`. */
export interface CandidateState {
  readonly ballot: number
  /** Each acceptor's Promise, in the parts it came in (a report too large for one message
   * comes in several); `complete` once the last part arrived. */
  readonly promises: Map<NodeId, { readonly parts: PromiseReport[]; complete: boolean; askedFrom: number | null }>
  /** Its own promise counts only once the ballot is durable (after `advance`). */
  selfPromised: boolean
  /** Acceptors sent the Prepare: the voters of every membership the recovery needs (it may
   * learn of more from the promises, see `maybeWin`). */
  readonly asked: Set<NodeId>
}

export interface PaxosState {
  readonly config: CoreConfig
  readonly id: NodeId
  readonly options: ResolvedOptions
  /** The chosen memberships that may still govern a slot above the watermark (configs.ts). */
  configs: Configs
  readonly log: SlotLog
  /** Highest ballot promised ("Paxos Made Simple" phase 1b); durable as HardState.term. */
  promisedBallot: number
  role: Role
  leader: NodeId | null
  /** Chosen watermark: every slot up to it is chosen and held here (or in the snapshot). */
  commitIndex: number
  electionElapsed: number
  electionTimeout: number
  /** A pre-candidate's would-be ballot and the replicas that said yes (itself included). */
  preCandidate: { readonly ballot: number; readonly grants: Set<NodeId> } | null
  /** The one pre-candidate this replica backs, for `ticksLeft` more ticks (see pre-vote.ts). */
  preVoteGrant: { readonly to: NodeId; ticksLeft: number } | null
  candidate: CandidateState | null
  proposer: LeaderState | null
  readonly reads: ReadBarrier
  readonly out: Outbox
  /** A snapshot arriving in chunks from the leader (one at a time). */
  readonly snapshotAssembly: SnapshotAssembly
  /** Highest slot put in a Ready's `committed` (or covered by a handed-out snapshot). */
  handedOut: number
  /** Highest slot applied: handed out in `committed` (the shell applies at once), or covered
   * by a snapshot whose Ready was advanced (restored by then). */
  appliedIndex: number
  /** The hard state last handed out (written by a Ready in flight, or durable already). */
  handedOutHardState: HardState | null
  /** Readys handed out and not yet advanced, oldest first, numbered from 1 (`seq`). */
  readonly inflight: Array<{ readonly ready: Ready; readonly seq: number }>
  /** Readys handed out so far: the `seq` of the latest. */
  readySeq: number
  /** How many of `inflight` carry a snapshot: nothing is handed out to apply meanwhile. */
  snapshotsInFlight: number
  /** Slots whose latest write is not durable yet. */
  readonly unsynced: UnsyncedSlots
}

/** A randomized election timeout in [T, 2T): Raft §5.2's cure for duelling proposers. */
export function randomElectionTimeout(config: CoreConfig): number {
  const base = config.electionTimeoutTicks
  return base + Math.min(base - 1, Math.floor(config.random() * base))
}

export function createState(config: CoreConfig, options: ResolvedOptions): PaxosState {
  return {
    config,
    id: config.id,
    options,
    configs: Configs.initial(config.members, options.alpha),
    log: new SlotLog(),
    promisedBallot: 0,
    role: 'follower',
    leader: null,
    commitIndex: 0,
    electionElapsed: 0,
    electionTimeout: randomElectionTimeout(config),
    preCandidate: null,
    preVoteGrant: null,
    candidate: null,
    proposer: null,
    reads: new ReadBarrier(),
    out: new Outbox(),
    snapshotAssembly: new SnapshotAssembly(),
    handedOut: 0,
    appliedIndex: 0,
    handedOutHardState: null,
    inflight: [],
    readySeq: 0,
    snapshotsInFlight: 0,
    unsynced: new UnsyncedSlots(),
  }
}

/** Accept (or learn) `entry` into the log; it goes out to be made durable in the next Ready. */
export function writeSlot(s: PaxosState, entry: Entry): void {
  s.log.set(entry)
  s.out.persist(entry)
  s.unsynced.written(entry.index)
}

/** Queue a message that depends on nothing in the pending Ready being durable. */
export function sendNow(s: PaxosState, to: NodeId, msg: Unaddressed<PaxosMessage>): void {
  s.out.messagesNow.push({ ...msg, from: s.id, to })
}

/** Queue a message that announces durable state: it leaves only after the sync. */
export function sendAfterPersist(s: PaxosState, to: NodeId, msg: Unaddressed<PaxosMessage>): void {
  s.out.messagesAfterPersist.push({ ...msg, from: s.id, to })
}
