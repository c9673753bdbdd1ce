import {
  entryBytes,
  initialMembership,
  isMembershipRefusal,
  isRefusedForNow,
  isNotLeader,
  maxReadysInFlight,
  membershipFields,
  type ConsensusCore,
  type CoreConfig,
  type CoreFactory,
  type Entry,
  type Membership,
  type MembershipChange,
  type PeerMessage,
  type ReadState,
  type Ready,
  type Snapshot,
} from '@kv/consensus'
import type { ClientResponse, ErrorCode, MemberRequest, MembersResponse, ReplicaStatus, StatusRequest } from '@kv/protocol'
import type { ReplicaEnv } from './env.js'
import { isGroupMessage, type GroupMessage, type MachineContext, type OutgoingGroupMessage } from './group-message.js'
import { checkReplicaLimits, defaultReplicaLimits, type ReplicaLimits } from './limits.js'
import { decodeRecord, encodeRecord, type Command, type LogRecord } from './log-record.js'
import type { StateMachine } from './state-machine.js'

export type Reply = (response: ClientResponse | ReplicaStatus | MembersResponse) => void

/** A client operation for the group's machine, under the client's session (reads carry seq 0). */
export interface SessionRequest<Op> {
  readonly clientId: string
  readonly seq: number
  readonly ackedSeq: number
  readonly op: Op
}

interface PendingRead<Op> {
  readonly op: Op
  readonly reply: Reply
}

/** A read the machine holds until an apply can answer it, or until `deadlineMs` (env clock). */
interface HeldRead<Op> extends PendingRead<Op> {
  readonly deadlineMs: number
}

/** A Ready handed out and not yet advanced; `persisted` once the env reported its write done. */
interface ReadyInFlight {
  readonly ready: Ready
  persisted: boolean
}

/** The operation type of a machine. */
export type OpOf<M> = M extends StateMachine<infer Op> ? Op : never

// Methods are bivariant in their parameters (and a held read hands its Op back), so every
// StateMachine<Op> is a StateMachine<unknown>.
type AnyMachine = StateMachine<unknown>

export interface ReplicaOptions<M extends AnyMachine> {
  /** The group this replica belongs to (group messages name it). */
  readonly groupId: string
  readonly coreFactory: CoreFactory
  readonly coreConfig: CoreConfig
  readonly env: ReplicaEnv<M>
  readonly limits?: Partial<ReplicaLimits>
  /** The group's state machine: fresh, or loaded from a durable mirror. */
  readonly stateMachine: M
}

const waiterKey = (clientId: string, seq: number): string => `${clientId}\u0000${seq}`

/**
 * One replica of a group: a consensus core, the group's state machine, and the loop between
 * them (DESIGN.md "The replica loop"). The shell owns what every group needs — batching
 * writes into log records, read barriers, snapshots, the clients waiting for answers — and
 * nothing of what the records mean. Pure: all I/O goes through `ReplicaEnv`. The caller
 * calls `tick`, `step` and `request` as events arrive, then `flush()` once per group of events.
 */
export class Replica<M extends AnyMachine = AnyMachine> {
  readonly core: ConsensusCore
  readonly stateMachine: M
  readonly groupId: string
  private readonly env: ReplicaEnv<M>
  private readonly limits: ReplicaLimits
  /** Readys handed out and not yet advanced, oldest first (at most `maxReadysInFlight`). */
  private readonly readysInFlight: ReadyInFlight[] = []
  private readonly maxReadysInFlight: number
  /** Readys in flight that carry entries and whose write has not completed (group commit). */
  private batchesWriting = 0
  /** Bytes of entries (`entryBytes`) handed out to be written and not written yet. */
  private bytesWriting = 0
  private driving = false
  private pendingWrites: Command<OpOf<M>>[] = []
  private readonly writeWaiters = new Map<string, Reply[]>()
  private pendingGets: PendingRead<OpOf<M>>[] = []
  private readonly readBatches = new Map<number, PendingRead<OpOf<M>>[]>()
  private confirmedReads: Array<{ index: number; gets: PendingRead<OpOf<M>>[] }> = []
  private heldReads: HeldRead<OpOf<M>>[] = []
  /** The applied index the held reads were last asked at. */
  private heldCheckedAt = 0
  private nextReadCtx = 1
  private leaderTerm: number | null = null
  private snapshotInFlight = false
  private lastSnapshotIndex: number
  private pendingCount = 0
  /**
   * The group's membership as of the applied index, from the membership entries applied and
   * the snapshots restored: it goes into every snapshot this replica takes, so that a replica
   * restarted from it knows its group (see `Snapshot.membership`).
   */
  private membershipAtApplied: Required<Pick<Snapshot, 'membership' | 'membershipIndex'>> & Pick<Snapshot, 'previousMembership'>
  /**
   * Members' contexts (their addresses), from the add-learner entries applied (`kv member add`)
   * and the snapshots restored; each snapshot this replica takes carries its members' contexts.
   */
  private readonly memberContexts = new Map<string, Uint8Array>()
  /** Membership changes this replica proposed as leader, answered when their entry applies. */
  private readonly memberWaiters = new Map<number, Reply>()

  /** The machine seen through its operation type (inside this class, M's own methods take `never`). */
  private get machine(): StateMachine<OpOf<M>> {
    return this.stateMachine as StateMachine<unknown> as StateMachine<OpOf<M>>
  }

  constructor(options: ReplicaOptions<M>) {
    this.env = options.env
    this.groupId = options.groupId
    this.limits = { ...defaultReplicaLimits, ...options.limits }
    checkReplicaLimits(this.limits)
    this.stateMachine = options.stateMachine
    // The durable snapshot may be ahead of the state machine's mirror: start from it then.
    const snapshot = options.coreConfig.persisted?.snapshot ?? null
    if (snapshot !== null && snapshot.index > this.stateMachine.appliedIndex) this.stateMachine.restore(snapshot.data)
    this.lastSnapshotIndex = snapshot?.index ?? 0
    this.membershipAtApplied = membershipOf(snapshot, options.coreConfig.members)
    this.restoreContexts(snapshot)
    this.maxReadysInFlight = maxReadysInFlight(options.coreConfig)
    this.core = options.coreFactory(options.coreConfig)
  }

  get id(): string {
    return this.core.status().id
  }

  // A change of leadership caused by a tick or a message is acted on in the next flush()
  // (drive() checks it once per flush rather than once per message).
  tick(): void {
    this.core.tick()
    this.stateMachine.tick?.(this.machineContext())
    this.expireHeldReads()
  }

  /** A message from a peer: consensus traffic of this group, or a group message for the machine. */
  step(msg: PeerMessage): void {
    if (isGroupMessage(msg)) {
      if (msg.toGroup !== this.groupId) return
      // Senders address the replicas their shard map lists, which may not include a member
      // admitted since (kv member add) that leads now: a follower that knows its leader hands
      // the message on, once. It still sees the message itself (some any replica answers).
      const status = this.core.status()
      if (status.role !== 'leader' && status.leader !== null && status.leader !== status.id && msg.via === undefined) {
        this.env.send({ ...msg, to: status.leader, via: status.id } as GroupMessage)
      }
      this.stateMachine.onGroupMessage?.(msg, this.machineContext())
      return
    }
    this.core.step(msg)
  }

  private machineContext(): MachineContext {
    const status = this.core.status()
    return {
      replicaId: status.id,
      groupId: this.groupId,
      isLeader: status.role === 'leader',
      term: status.term,
      nowMs: this.env.now(),
      send: (msg: OutgoingGroupMessage) => {
        const full: GroupMessage = { ...msg, from: status.id, fromGroup: this.groupId, term: 0 }
        this.env.send(full)
      },
      propose: (record: LogRecord) => {
        if (this.core.status().role !== 'leader') return false
        // A Raft leader handing over refuses proposals: the caller must not count this one as made.
        return !isNotLeader(this.core.propose(encodeRecord(record)))
      },
    }
  }

  /** A client request that passed the gateway (e.g. `parseClientRequest`). */
  request(req: SessionRequest<OpOf<M>> | StatusRequest | MemberRequest, reply: Reply): void {
    if ('type' in req && req.type === 'status') return reply(this.replicaStatus(req.digest === true))
    if ('type' in req && req.type === 'member') return this.memberRequest(req, reply)
    const { op } = req
    const kind = this.machine.classify(op)
    if (kind === 'stale-read') return reply(this.finalRead(op))
    const status = this.core.status()
    if (status.role !== 'leader') return reply(notLeader(status.leader))
    if (this.pendingCount >= this.limits.maxPendingRequests) {
      return reply(error('UNAVAILABLE', 'too many requests in flight on this replica; retry later'))
    }
    this.pendingCount++
    if (kind === 'read') this.pendingGets.push({ op, reply })
    else this.enqueueWrite(req, reply)
  }

  /**
   * `kv member`: `list` answers this replica's applied view at once; a change goes to the core
   * (the leader takes one at a time: see `ConsensusCore.proposeMembership`) and is answered
   * once its entry applies here, or refused at once (NOT_LEADER, or UNAVAILABLE with the
   * core's reason: a change pending, a learner not caught up, ...). The new replica's address
   * travels in the change's context, so every replica learns it from the log.
   */
  private memberRequest(req: MemberRequest, reply: Reply): void {
    if (req.action === 'list') return reply(this.membersResponse())
    const type: MembershipChange['type'] = req.action === 'add' ? 'add-learner' : req.action
    const change: MembershipChange = { type, id: req.replicaId!, context: new TextEncoder().encode(req.address ?? '') }
    const result = this.core.proposeMembership(change)
    if (isNotLeader(result)) return reply(notLeader(result.leader))
    if (isMembershipRefusal(result)) {
      const code = isRefusedForNow(result.reason) ? 'UNAVAILABLE' : 'BAD_REQUEST'
      return reply(error(code, `member ${req.action} ${req.replicaId}: ${result.reason}: ${result.message}`))
    }
    this.memberWaiters.set(result.index, reply)
    this.drive()
  }

  private membersResponse(): MembersResponse {
    const { membership, membershipIndex } = this.membershipAtApplied
    const addresses: Record<string, string> = {}
    for (const id of [...membership.voters, ...membership.learners]) {
      const context = this.memberContexts.get(id)
      if (context !== undefined) addresses[id] = new TextDecoder().decode(context)
    }
    return { type: 'members', replicaId: this.id, voters: membership.voters, learners: membership.learners, addresses, index: membershipIndex }
  }

  private enqueueWrite(req: SessionRequest<OpOf<M>>, reply: Reply): void {
    const key = waiterKey(req.clientId, req.seq)
    const waiting = this.writeWaiters.get(key)
    if (waiting !== undefined) {
      // The same write is already on its way through the log: answer both from one apply.
      waiting.push(reply)
      return
    }
    this.writeWaiters.set(key, [reply])
    this.pendingWrites.push({ clientId: req.clientId, seq: req.seq, ackedSeq: req.ackedSeq, op: req.op })
  }

  /** Propose what has queued up, ask for a read barrier, and run the Ready loop. */
  flush(): void {
    // Group commit: while `maxBatchesWriting` batches are being made durable, writes gather
    // into the next entry (a full entry goes at once).
    const full = this.pendingWrites.length >= this.limits.maxCommandsPerEntry
    if (this.pendingWrites.length > 0 && (this.batchesWriting < this.limits.maxBatchesWriting || full)) this.proposeWrites()
    if (this.pendingGets.length > 0) this.requestReadBarrier()
    this.drive()
  }

  private proposeWrites(): void {
    const writes = this.pendingWrites
    this.pendingWrites = []
    const timeMs = this.env.now()
    for (let i = 0; i < writes.length; i += this.limits.maxCommandsPerEntry) {
      const commands = writes.slice(i, i + this.limits.maxCommandsPerEntry)
      const record = { kind: this.stateMachine.commandKind, v: 1, timeMs, commands } as LogRecord
      const result = this.core.propose(encodeRecord(record))
      if (isNotLeader(result)) {
        for (const c of commands) this.answerWrite(c.clientId, c.seq, notLeader(result.leader))
      }
    }
  }

  private requestReadBarrier(): void {
    const gets = this.pendingGets
    this.pendingGets = []
    const ctx = this.nextReadCtx++
    const refused = this.core.readIndex(ctx)
    if (refused !== null) {
      for (const g of gets) this.answer(g.reply, notLeader(refused.leader))
      return
    }
    this.readBatches.set(ctx, gets)
  }

  /**
   * The Ready loop, pipelined (see `Ready` in @kv/consensus): hand out Readys while fewer
   * than `maxReadysInFlight` are in flight (send, apply what is committed, start the write),
   * and finish the oldest ones whose writes completed, in hand-out order.
   */
  private drive(): void {
    if (this.driving) return
    this.driving = true
    try {
      for (;;) {
        this.finishPersisted()
        if (this.readysInFlight.length >= this.maxReadysInFlight) break
        // Backpressure: the storage layer's queue stays bounded (one Ready still goes past it).
        if (this.bytesWriting >= this.limits.maxWriteBytesInFlight) break
        const ready = this.core.ready()
        if (ready === null) break
        this.handOut(ready)
      }
    } finally {
      this.driving = false
    }
    this.checkLeadership()
  }

  /**
   * Duties 1 and 2 of a new Ready. Its committed entries are durable here already (the core
   * hands out no others), so they are applied and answered now, whatever is still being
   * written; a snapshot is restored only once written (`finishPersisted`), and the core hands
   * out nothing to apply until then.
   */
  private handOut(ready: Ready): void {
    const inFlight: ReadyInFlight = { ready, persisted: false }
    this.readysInFlight.push(inFlight)
    const batch = ready.entries.length > 0
    const bytes = ready.entries.reduce((n, e) => n + entryBytes(e), 0)
    if (batch) this.batchesWriting++
    this.bytesWriting += bytes
    for (const m of ready.messagesNow) this.env.send(m)
    if (ready.snapshot === null) this.applyReady(ready)
    this.env.persist(ready, () => {
      // The env may report writes in any order (one with nothing to write at once): the
      // Readys are finished in hand-out order all the same.
      inFlight.persisted = true
      if (batch) this.batchesWriting--
      this.bytesWriting -= bytes
      if (!this.driving) this.flush()
    })
  }

  private applyReady(ready: Ready): void {
    if (ready.snapshot !== null) this.installSnapshot(ready.snapshot)
    for (const entry of ready.committed) this.apply(entry)
    if (ready.snapshot !== null || ready.committed.length > 0) this.env.onApplied?.(this.stateMachine)
    for (const rs of ready.readStates) this.onReadState(rs)
    this.serveConfirmedReads()
    this.retryHeldReads()
  }

  /** Duty 3 of the oldest Readys whose writes completed: what waited for the write, then advance. */
  private finishPersisted(): void {
    for (let head = this.readysInFlight[0]; head?.persisted === true; head = this.readysInFlight[0]) {
      this.readysInFlight.shift()
      const { ready } = head
      if (ready.snapshot !== null) this.applyReady(ready)
      for (const m of ready.messagesAfterPersist) this.env.send(m)
      this.core.advance(ready)
      this.maybeSnapshot()
    }
  }

  private installSnapshot(snapshot: Snapshot): void {
    if (snapshot.index <= this.stateMachine.appliedIndex) return
    if (snapshot.membership !== undefined) this.membershipAtApplied = membershipOf(snapshot, [])
    this.restoreContexts(snapshot)
    this.stateMachine.restore(snapshot.data)
    this.lastSnapshotIndex = snapshot.index
  }

  /** The members' contexts a snapshot carries replace those known (a snapshot without any keeps them). */
  private restoreContexts(snapshot: Snapshot | null): void {
    if (snapshot?.memberContexts === undefined) return
    this.memberContexts.clear()
    for (const [id, context] of Object.entries(snapshot.memberContexts)) this.memberContexts.set(id, context)
  }

  private apply(entry: Entry): void {
    if (entry.type === 'membership' && entry.index > this.membershipAtApplied.membershipIndex) {
      this.membershipAtApplied = {
        membership: entry.membership, membershipIndex: entry.index, previousMembership: this.membershipAtApplied.membership,
      }
      if (entry.change.type === 'add-learner' && entry.change.context.length > 0) this.memberContexts.set(entry.change.id, entry.change.context)
      if (entry.change.type === 'remove') this.memberContexts.delete(entry.change.id)
    }
    if (entry.type === 'membership') {
      const waiter = this.memberWaiters.get(entry.index)
      this.memberWaiters.delete(entry.index)
      waiter?.(this.membersResponse())
    }
    // Entries at or below the state machine's index were applied before a restart.
    if (entry.index <= this.stateMachine.appliedIndex) return
    // A membership entry means nothing to the machine; its index is applied all the same.
    if (entry.type === 'noop' || entry.type === 'membership') return this.stateMachine.applyNoop(entry.index, entry.term)
    const record = decodeRecord(entry.data)
    const results = this.stateMachine.apply(entry.index, entry.term, record)
    if (record.kind !== this.stateMachine.commandKind || !('commands' in record)) return
    for (let i = 0; i < results.length; i++) {
      const c = record.commands[i]!
      this.answerWrite(c.clientId, c.seq, results[i]!)
    }
  }

  private answerWrite(clientId: string, seq: number, response: ClientResponse): void {
    const key = waiterKey(clientId, seq)
    const replies = this.writeWaiters.get(key)
    if (replies === undefined) return
    this.writeWaiters.delete(key)
    for (const r of replies) this.answer(r, response)
  }

  private answer(reply: Reply, response: ClientResponse): void {
    this.pendingCount--
    reply(response)
  }

  private onReadState(rs: ReadState): void {
    const gets = this.readBatches.get(rs.ctx)
    if (gets === undefined) return
    this.readBatches.delete(rs.ctx)
    if (rs.index === null) {
      for (const g of gets) this.answer(g.reply, notLeader(this.core.status().leader))
      return
    }
    this.confirmedReads.push({ index: rs.index, gets })
  }

  private serveConfirmedReads(): void {
    if (this.confirmedReads.length === 0) return
    const applied = this.stateMachine.appliedIndex
    const waiting: typeof this.confirmedReads = []
    for (const batch of this.confirmedReads) {
      if (batch.index > applied) {
        waiting.push(batch)
        continue
      }
      for (const g of batch.gets) this.serveRead(g)
    }
    this.confirmedReads = waiting
  }

  // ---- held reads: a read the machine cannot answer yet waits for an apply or its deadline ----

  private serveRead(g: PendingRead<OpOf<M>>): void {
    const r = this.machine.read(g.op)
    if (r.type !== 'hold') return this.answer(g.reply, r)
    if (this.heldReads.length >= this.limits.maxHeldReads) {
      return this.answer(g.reply, error('UNAVAILABLE', `more than ${this.limits.maxHeldReads} reads held on this replica; retry later`))
    }
    this.heldReads.push({ op: r.retry, reply: g.reply, deadlineMs: this.env.now() + r.waitMs })
  }

  private finalRead(op: OpOf<M>): ClientResponse {
    const r = this.machine.read(op, true)
    if (r.type === 'hold') throw new Error('a state machine held a read it was asked to answer')
    return r
  }

  /** After an apply: the held reads the machine can answer now are answered. */
  private retryHeldReads(): void {
    if (this.heldReads.length === 0 || this.stateMachine.appliedIndex === this.heldCheckedAt) return
    this.heldCheckedAt = this.stateMachine.appliedIndex
    const held = this.heldReads
    this.heldReads = []
    for (const h of held) {
      const r = this.machine.read(h.op)
      if (r.type === 'hold') this.heldReads.push({ ...h, op: r.retry })
      else this.answer(h.reply, r)
    }
  }

  /** On a tick: held reads past their deadline get the machine's final answer. */
  private expireHeldReads(): void {
    if (this.heldReads.length === 0) return
    const now = this.env.now()
    const due = this.heldReads.filter((h) => h.deadlineMs <= now)
    if (due.length === 0) return
    this.heldReads = this.heldReads.filter((h) => h.deadlineMs > now)
    for (const h of due) this.answer(h.reply, this.finalRead(h.op))
  }

  private maybeSnapshot(): void {
    const every = this.limits.snapshotEveryEntries
    if (every === 0 || this.snapshotInFlight) return
    if (this.stateMachine.appliedIndex - this.lastSnapshotIndex < every) return
    const snapshot: Snapshot = {
      index: this.stateMachine.appliedIndex,
      term: this.stateMachine.appliedTerm,
      data: this.stateMachine.snapshot(),
      ...membershipFields(this.membershipAtApplied),
      ...(this.memberContexts.size === 0 ? {} : { memberContexts: Object.fromEntries(this.memberContexts) }),
    }
    this.snapshotInFlight = true
    this.env.saveSnapshot(snapshot, () => {
      this.snapshotInFlight = false
      // A snapshot from the leader may have overtaken ours while it was being written.
      if (snapshot.index > this.core.status().firstIndex - 1) this.core.compact(snapshot)
      this.lastSnapshotIndex = Math.max(this.lastSnapshotIndex, snapshot.index)
    })
  }

  /**
   * When this replica stops leading, no write it was waiting on is sure to commit (a new
   * leader may overwrite it), and no read barrier it asked for will be confirmed: answer all
   * of them NOT_LEADER. The client retries elsewhere under the same session and seq, so a
   * write that did commit is answered from the session, never applied twice. Reads whose
   * barrier was already confirmed stay: they are still linearizable once applied. Held reads
   * (watch polls) are answered NOT_LEADER too: the client polls the new leader from where it was.
   */
  private checkLeadership(): void {
    const status = this.core.status()
    const term = status.role === 'leader' ? status.term : null
    if (this.leaderTerm !== null && term !== this.leaderTerm) this.failPending(status.leader)
    this.leaderTerm = term
  }

  private failPending(leader: string | null): void {
    const response = notLeader(leader)
    // A change proposed under the lost leadership may or may not commit: `kv member list` tells.
    for (const reply of this.memberWaiters.values()) reply(response)
    this.memberWaiters.clear()
    this.pendingWrites = []
    const waiters = [...this.writeWaiters.values()]
    this.writeWaiters.clear()
    for (const replies of waiters) for (const r of replies) this.answer(r, response)
    const gets = [...this.pendingGets, ...[...this.readBatches.values()].flat(), ...this.heldReads]
    this.pendingGets = []
    this.readBatches.clear()
    this.heldReads = []
    for (const g of gets) this.answer(g.reply, response)
  }

  replicaStatus(withDigest = false): ReplicaStatus {
    const s = this.core.status()
    return {
      ...(withDigest ? { digest: this.stateMachine.digest() } : {}),
      type: 'status',
      replicaId: s.id,
      role: s.role,
      term: s.term,
      leader: s.leader,
      commitIndex: s.commitIndex,
      appliedIndex: this.stateMachine.appliedIndex,
      lastIndex: s.lastIndex,
      firstIndex: s.firstIndex,
      ...this.stateMachine.statusInfo?.(),
    }
  }
}

/** The membership fields of `snapshot`, or the initial membership (`members`) without one. */
function membershipOf(snapshot: Snapshot | null, members: readonly string[]): Required<Pick<Snapshot, 'membership' | 'membershipIndex'>> & Pick<Snapshot, 'previousMembership'> {
  const membership: Membership = snapshot?.membership ?? initialMembership(members)
  return {
    membership,
    membershipIndex: snapshot?.membershipIndex ?? 0,
    ...(snapshot?.previousMembership === undefined ? {} : { previousMembership: snapshot.previousMembership }),
  }
}

function notLeader(leader: string | null): ClientResponse {
  return { type: 'error', code: 'NOT_LEADER', message: 'this replica does not lead its group', leader }
}

function error(code: ErrorCode, message: string): ClientResponse {
  return { type: 'error', code, message }
}
