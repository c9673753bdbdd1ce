/**
 * The consensus contract shared by every core (`@kv/raft`, `@kv/paxos`).
 *
 * A core is a pure state machine: it takes ticks, peer messages and proposals, and hands
 * the shell a `Ready` of work to do. It never awaits, never reads a clock, never touches a
 * socket or a disk. Randomness comes in through `CoreConfig.random` (seeded).
 *
 * Raft's term is Paxos's ballot: both expose one gap-free committed sequence of entries,
 * indexed from 1.
 */

import type { Membership, MembershipChange, MembershipRefusal } from './membership.js'

/** A replica's id, unique within its group (e.g. "g1-r2"). */
export type NodeId = string

/**
 * One slot of the replicated log. `term` is the Raft term (or Paxos ballot) under which
 * the entry was written. `noop` entries are written by a new leader (Raft: to commit
 * entries of earlier terms; Paxos: to fill holes) and carry no data for the application.
 * `membership` entries change the group (see `Membership`): they carry the change and the
 * membership it results in, commit like any entry, and reach the shell in `Ready.committed`
 * (the application applies nothing for them; the shell learns members and addresses).
 */
export type Entry =
  | { readonly type: 'normal'; readonly index: number; readonly term: number; readonly data: Uint8Array }
  | { readonly type: 'noop'; readonly index: number; readonly term: number }
  | {
    readonly type: 'membership'
    readonly index: number
    readonly term: number
    readonly change: MembershipChange
    readonly membership: Membership
  }

/**
 * The small durable state a core must find again after a crash.
 * Raft: term, vote, commit. Paxos: term = promised ballot, vote unused, commit = chosen
 * watermark. `commit` may be persisted lazily (it can be re-learned), term and vote may not.
 */
export interface HardState {
  readonly term: number
  readonly vote: NodeId | null
  readonly commit: number
}

/** A point-in-time image of the application state covering the log up to `index`. */
export interface Snapshot {
  readonly index: number
  readonly term: number
  /** Opaque bytes produced by the application's state machine. */
  readonly data: Uint8Array
  /**
   * The latest membership at or below `index` (of the last membership entry there, or the
   * initial one). A core fills the three membership fields in when it compacts (`compact`)
   * and sends them with the snapshot; the shell stores them with the snapshot (tracking them
   * as it applies membership entries), so a restarted or snapshot-restored replica knows its
   * group. Absent in snapshots taken before membership changes existed: the core then takes
   * `CoreConfig.members`.
   */
  readonly membership?: Membership
  /** The index of the entry that set `membership` (0: the initial membership). */
  readonly membershipIndex?: number
  /** The membership before that entry. Paxos needs it: a change chosen at slot i governs
   * slots from i + α on, so slots of the snapshot's window may still be the previous one's. */
  readonly previousMembership?: Membership
  /**
   * The `context` of the change that admitted each member (`MembershipChange.context`: the
   * shell puts a replica's address there), for members admitted by a change at or below
   * `index`. Opaque to the cores: they keep it with the snapshot and send it with it, so a
   * replica restored from a snapshot still knows where the members it never saw join live.
   */
  readonly memberContexts?: Readonly<Record<NodeId, Uint8Array>>
}

/** What a core is restarted from: everything it was handed to persist, as persisted. */
export interface PersistedState {
  readonly hardState: HardState | null
  readonly snapshot: Snapshot | null
  /** Log entries after the snapshot, in index order. Paxos logs may have holes. */
  readonly entries: readonly Entry[]
}

/** The answer to `readIndex(ctx)`: serve the read once the application has applied `index`. */
export type ReadState =
  | { readonly ctx: number; readonly index: number }
  /** The read could not be confirmed (leadership lost); the caller should retry elsewhere. */
  | { readonly ctx: number; readonly index: null }

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader'

export interface Status {
  readonly id: NodeId
  readonly role: Role
  readonly term: number
  readonly leader: NodeId | null
  readonly commitIndex: number
  readonly lastIndex: number
  /** Highest index handed out in `Ready.committed` (applied by the shell at once), or restored
   * from a snapshot whose Ready was advanced. */
  readonly appliedIndex: number
  /** First index still held in the log (entries below it are in the snapshot). */
  readonly firstIndex: number
  /**
   * The membership in force on this replica (Raft: the latest in its log, committed or not;
   * Paxos: the one governing its next slot to choose, so a chosen change shows α slots later).
   * A removed replica may be stopped once a replica shows it out and has committed its removal.
   */
  readonly membership: Membership
}

/** Returned by calls that only a leader can serve. `leader` is a hint, possibly stale. */
export interface NotLeader {
  readonly type: 'not-leader'
  readonly leader: NodeId | null
}

/**
 * Any message between two replicas of a group. Each core defines its own union of message
 * types on top of this; the transport carries them as plain objects (MessagePack).
 */
export interface PeerMessage {
  readonly type: string
  readonly from: NodeId
  readonly to: NodeId
  readonly term: number
}

/**
 * The work a core hands to its shell. Readys are pipelined (etcd-io/raft's asynchronous
 * storage writes): the shell may take the next Ready while earlier ones are still being made
 * durable, up to `maxReadysInFlight(config)` handed out and not yet advanced. The shell's
 * duties for each Ready:
 *
 *  1. At once, when it is handed out (nothing here waits for any write):
 *     a. Send `messagesNow`. They do not depend on anything in flight being durable (e.g. a
 *        leader's AppendEntries, which may go out while the leader writes its own disk).
 *     b. Apply `committed`, in order. They are durable on this node already: a core hands out
 *        only entries made durable by Readys it has seen advanced, so a leader applies (and
 *        answers) as soon as a quorum holds an entry and its own write of it has completed,
 *        without waiting for any write in flight. Committed entries are their own stream: a
 *        Ready may carry only `committed`, `readStates` and `messagesNow`, and is handed out
 *        while earlier writes are in flight. No Ready carries `committed` while a Ready
 *        carrying a `snapshot` is in flight (the state machine is restored at step 3 first).
 *     c. Take `readStates`: answer each read once the applied index reaches its `index`.
 *  2. Make durable, in the order the Readys were handed out (FIFO): `snapshot` (if any), then
 *     `truncateFrom` (delete every entry with index >= it), then `entries` (each replaces the
 *     entry at its index), then `hardState`. The writes of several Readys may share one sync
 *     (group commit at the storage layer), but a write is never reported done before its sync,
 *     and a crash keeps a prefix of the Readys handed out: never Ready k+1's write without k's.
 *  3. Once this Ready's write (hence every earlier one's) completed, in hand-out order:
 *     a. If `snapshot` is set, restore the state machine from it.
 *     b. Send `messagesAfterPersist`. They promise something about durable state (a vote, an
 *        AppendEntries ack, an Accepted, a Promise) and must never leave before their own
 *        Ready's write completed: a vote granted while Ready k is in flight rides in Ready k+1
 *        with the hard state that records it, and leaves after write k+1.
 *     c. Call `advance(ready)`. Advances come in hand-out order, one per Ready (a Ready with
 *        nothing to write is done as soon as every earlier one is). Only then does the core
 *        count the Ready's entries as durable: a leader counts its own copy toward a quorum,
 *        a candidate its own vote or promise, only at advance.
 *
 * Never call `ready()` while `maxReadysInFlight(config)` Readys are handed out and not yet
 * advanced. Ticks, steps and proposals may arrive at any time and go into the next Ready.
 *
 * Bounds: `entries` and `committed` are each capped in bytes (`maxPersistBytesPerReady`,
 * `maxApplyBytesPerReady`; at least one entry each); what is left comes in the next Ready.
 * A Ready that leaves entries to persist for later holds its `messagesAfterPersist` back
 * too (they go out after the Ready that persists the rest), and `hardState.commit` does not
 * reach past the entries handed out so far.
 *
 * `snapshot` is always whole: a snapshot received from a leader in chunks is handed out
 * only once its last chunk arrived, and the chunks' acknowledgements promise nothing durable.
 */
export interface Ready {
  readonly hardState: HardState | null
  readonly snapshot: Snapshot | null
  readonly truncateFrom: number | null
  readonly entries: readonly Entry[]
  readonly messagesNow: readonly PeerMessage[]
  readonly messagesAfterPersist: readonly PeerMessage[]
  readonly committed: readonly Entry[]
  readonly readStates: readonly ReadState[]
}

/** Everything a core is configured with. Timeouts are in ticks; the shell decides a tick's length. */
export interface CoreConfig {
  readonly id: NodeId
  /**
   * The group's initial voters, in a fixed order shared by all of them: the membership when
   * nothing persisted says otherwise (a snapshot's `membership`, or membership entries in the
   * log). A brand-new replica joining an existing group is started without itself here (for
   * instance with the group's current voters): it is then no member, never campaigns, and
   * learns the membership from the log or snapshot its leader sends.
   */
  readonly members: readonly NodeId[]
  readonly electionTimeoutTicks: number
  readonly heartbeatTicks: number
  /** Seeded randomness in [0, 1): the only source of nondeterminism a core may use. */
  readonly random: () => number
  /** Entries carried by one replication message at most. */
  readonly maxEntriesPerMessage: number
  /** Replication messages in flight to one follower at most (pipelining); also bounds the
   * snapshot chunks in flight to one follower. */
  readonly maxInflightMessages: number
  /**
   * Bytes of entries (see `entryBytes`) one replication message carries at most (Raft
   * AppendEntries, Paxos Accept and Learn, a Paxos Promise's report). One entry larger than
   * this still travels, alone. Default and upper bound: the core's `limits.ts`, which keeps
   * every message below the transport's frame.
   */
  readonly maxBytesPerMessage?: number
  /** Bytes of snapshot data in one snapshot chunk at most (snapshots travel in chunks). */
  readonly maxSnapshotChunkBytes?: number
  /** Bytes of entries one Ready hands out to persist at most (at least one entry). */
  readonly maxPersistBytesPerReady?: number
  /** Bytes of committed entries one Ready hands out to apply at most (at least one entry). */
  readonly maxApplyBytesPerReady?: number
  /**
   * Readys handed out and not yet advanced at most (see `Ready`); read it through
   * `maxReadysInFlight(config)`. Default `DEFAULT_MAX_READYS_IN_FLIGHT`; 1 is the unpipelined
   * loop (each Ready waits for the previous one's write).
   */
  readonly maxReadysInFlight?: number
  /** State found on disk at start; null for a brand-new replica. */
  readonly persisted: PersistedState | null
  /** Protocol-specific switches (Raft: preVote, checkQuorum; Paxos: skipSlots...). */
  readonly options?: Readonly<Record<string, unknown>>
}

export type ProposeResult = { readonly index: number; readonly term: number } | NotLeader

/** The answer to `proposeMembership`: the change's entry (it takes effect as the core's
 * protocol says), or why it was not made. */
export type ProposeMembershipResult = ProposeResult | MembershipRefusal

export interface ConsensusCore {
  /** One logical clock tick. */
  tick(): void
  /** A message from a peer. Malformed or stale messages are ignored, never thrown on. */
  step(msg: PeerMessage): void
  /** Append `data` to the log if this node leads; the entry commits later (see `Ready.committed`). */
  propose(data: Uint8Array): ProposeResult
  /**
   * Append a membership change to the log if this node leads (see `Membership`). Refused
   * when another change is pending, when promoting a learner not yet caught up
   * (`PROMOTE_MAX_LAG_ENTRIES`), when removing the last voter, or for an id the change does
   * not fit (unknown, or admitted before).
   */
  proposeMembership(change: MembershipChange): ProposeMembershipResult
  /** Ask for a linearizable read barrier; answered by a `ReadState` with this `ctx` in a later Ready. */
  readIndex(ctx: number): NotLeader | null
  /** Work to do now, or null when there is none (see `Ready` for when the shell may ask). */
  ready(): Ready | null
  /** The shell finished `ready` (its write completed); called for every Ready, in hand-out order. */
  advance(ready: Ready): void
  status(): Status
  /**
   * The application made `snapshot` (covering entries up to `snapshot.index`, which must be
   * applied) and stored it durably; the core may drop those entries and sends this snapshot
   * to followers that need entries it no longer has.
   */
  compact(snapshot: Snapshot): void
  /** Hand leadership to `to` (a leader-only request; ignored elsewhere). */
  transferLeadership(to: NodeId): void
  /** Throws `InvariantError` if an internal invariant is broken. Cheap enough to call after every step. */
  checkInvariants(): void
}

/** Builds a core; the simulator and the real node create cores only through this. */
export type CoreFactory = (config: CoreConfig) => ConsensusCore

export function isNotLeader(x: unknown): x is NotLeader {
  return typeof x === 'object' && x !== null && (x as { type?: unknown }).type === 'not-leader'
}
