import { hashKey } from '@kv/hashring'
import { ReplicaGroup, type GroupSpec, type ShardMap, type WireRevision } from '@kv/protocol'
import type { GroupMessage, MachineContext, OutgoingGroupMessage } from '../group-message.js'
import { isShardMapReply, type ShardMapQuery } from '../controller/messages.js'
import type { MigrationStep } from '../log-record.js'
import type { EncodedSession } from '../session.js'
import { asMigrationMessage, type KeysLearned, type KeysLearnedAck, type SendKeysRequest, type SendKeysResponse } from './migration-messages.js'
import type { OutgoingMove, ShardState } from './shards.js'

/** Named bounds of migration traffic. */
export interface MigrationLimits {
  /** Most keys in one SEND_KEYS_RESPONSE chunk. */
  readonly maxChunkKeys: number
  /** Most key + value bytes in one chunk (a chunk always carries at least one key). */
  readonly maxChunkBytes: number
  /** A leader resends an unanswered request every this many ticks. */
  readonly retryTicks: number
  /** A settled leader asks the controller for the next map every this many ticks. */
  readonly pollTicks: number
}

/**
 * Client sessions move with their keys (a write retried across a migration is applied once),
 * after the keys, in this many buckets by the hash of the client id. A bucket is a set of ids,
 * so whichever replica of the loser serves the next chunk, it sends every session of that
 * bucket: a position in a list of sessions would not do, since the next leader may hold more
 * or fewer sessions than the last one (the keys do not have that problem: they are frozen).
 * Sessions that changed after the freeze touched only arcs the loser keeps, and those the
 * gainer may miss; every session holding an answer for a moved key existed at the freeze.
 */
export const SESSION_BUCKETS = 256

export function sessionBucket(clientId: string): number {
  return hashKey(clientId) % SESSION_BUCKETS
}

/** About the bytes of one encoded session on the wire (for the chunk bound). */
export function sessionBytes([id, , , results]: readonly [string, ...EncodedSession]): number {
  let n = id.length + 24
  for (const [, result] of results) n += 16 + ('value' in result && result.value instanceof Uint8Array ? result.value.length : 0)
  return n
}

export const defaultMigrationLimits: MigrationLimits = { maxChunkKeys: 512, maxChunkBytes: 1024 * 1024, retryTicks: 2, pollTicks: 4 }

/** What the driver needs of the KV machine. */
export interface MigrationData {
  readonly shards: ShardState
  /** Every key of the outgoing move, sorted (its data is frozen, so the list is stable). */
  keysOf(move: OutgoingMove): readonly string[]
  value(key: string): Uint8Array | null
  sessions(): ReadonlyArray<readonly [string, ...EncodedSession]>
  /** Watches: an upper bound of every revision the (frozen) key's events ever had. */
  floorOf(key: string): WireRevision
  /**
   * Watches: for the keys of the move's arcs that are not held, in session buckets
   * [fromBucket, toBucket): each such key with events here and its floor, and each bucket's bound
   * for the others.
   */
  absentFloors(
    move: OutgoingMove,
    fromBucket: number,
    toBucket: number,
  ): { readonly keys: ReadonlyArray<readonly [string, WireRevision]>; readonly buckets: ReadonlyArray<readonly [number, WireRevision]> }
}

/**
 * The leader's side of migration: asking the controller for the next map, pulling gained
 * arcs chunk by chunk, answering pulls for lost arcs, and the KEYS_LEARNED handshake. It only
 * sends messages and proposes steps; every decision that matters is a step in a log, applied
 * by `ShardState`, so a new leader resumes from the applied state. Volatile: what it has
 * proposed (to avoid proposing a step twice per term) and whom it asked.
 */
export class MigrationDriver {
  private ticks = 0
  private readonly proposed = new Set<string>()
  private readonly peers = new Map<string, ReplicaGroup<string>>()
  /** The term the proposals in `proposed` were made in. */
  private proposedInTerm = -1
  private proposedAtEpoch = 0

  constructor(
    private readonly data: MigrationData,
    /** The controller group, or null for a fixed map. */
    private readonly controller: GroupSpec | null,
    private readonly limits: MigrationLimits,
  ) {}

  tick(ctx: MachineContext): void {
    if (!ctx.isLeader) return
    this.ticks++
    const shards = this.data.shards
    if (shards.epoch !== this.proposedAtEpoch) {
      // Steps are named by epoch: those of earlier epochs can never be proposed again.
      this.proposed.clear()
      this.proposedAtEpoch = shards.epoch
    }
    if (shards.settled) {
      if (this.controller !== null && this.ticks % this.limits.pollTicks === 0) {
        const query: OutgoingGroupMessage<ShardMapQuery> = { type: 'ShardMapQuery', toGroup: this.controller.id, to: this.target(this.controller), epoch: shards.epoch + 1 }
        ctx.send(query)
      }
      return
    }
    if (this.ticks % this.limits.retryTicks !== 0) return
    const epoch = shards.epoch
    for (const move of shards.incoming) {
      const spec = shards.groupSpec(move.from)
      if (spec === null) continue
      switch (move.state) {
        case 'waiting':
          this.propose(ctx, { type: 'send-keys-request', epoch, from: move.from })
          break
        case 'pulling': {
          const req: OutgoingGroupMessage<SendKeysRequest> = { type: 'SendKeysRequest', toGroup: move.from, to: this.target(spec), epoch, cursor: move.cursor }
          ctx.send(req)
          break
        }
        case 'installed':
          this.propose(ctx, { type: 'shard-ready', epoch, from: move.from })
          break
        case 'ready': {
          const learned: OutgoingGroupMessage<KeysLearned> = { type: 'KeysLearned', toGroup: move.from, to: this.target(spec), epoch }
          ctx.send(learned)
          break
        }
      }
    }
  }

  onMessage(msg: GroupMessage, ctx: MachineContext): void {
    if (isShardMapReply(msg)) return this.onShardMap(msg.map, ctx)
    const m = asMigrationMessage(msg)
    if (m === null) return
    this.peers.get(msg.fromGroup)?.believeLeader(msg.from)
    // Only a leader acts: what it proposes must go into this group's log.
    if (!ctx.isLeader) return
    const shards = this.data.shards
    switch (m.type) {
      case 'SendKeysRequest': {
        const move = shards.epoch === m.epoch ? shards.outgoing.find((o) => o.to === msg.fromGroup) : undefined
        if (move === undefined) return // not there yet (a lower epoch), or long done
        if (move.state === 'frozen') return this.propose(ctx, { type: 'send-keys-response', epoch: m.epoch, to: move.to })
        return ctx.send(this.chunk(move, m, msg))
      }
      case 'SendKeysResponse': {
        const move = shards.epoch === m.epoch ? shards.incoming.find((i) => i.from === msg.fromGroup) : undefined
        if (move?.state !== 'pulling' || move.cursor !== m.cursor) return
        return this.propose(ctx, {
          type: 'install', epoch: m.epoch, from: move.from, cursor: m.cursor, next: m.next, done: m.done, entries: m.entries, sessions: m.sessions,
          ...(m.floors === undefined ? {} : { floors: m.floors }),
          ...(m.bucketFloors === undefined ? {} : { bucketFloors: m.bucketFloors }),
        })
      }
      case 'KeysLearned': {
        const move = shards.epoch === m.epoch ? shards.outgoing.find((o) => o.to === msg.fromGroup) : undefined
        if (move !== undefined) return this.propose(ctx, { type: 'keys-learned', epoch: m.epoch, to: move.to })
        if (shards.epoch >= m.epoch) {
          // Deleted already (this epoch or an earlier one): say so, as often as asked.
          const ack: OutgoingGroupMessage<KeysLearnedAck> = { type: 'KeysLearnedAck', toGroup: msg.fromGroup, to: msg.from, epoch: m.epoch }
          ctx.send(ack)
        }
        return
      }
      case 'KeysLearnedAck': {
        const move = shards.epoch === m.epoch ? shards.incoming.find((i) => i.from === msg.fromGroup) : undefined
        if (move?.state === 'ready') this.propose(ctx, { type: 'learned-acked', epoch: m.epoch, from: move.from })
        return
      }
    }
  }

  private onShardMap(map: ShardMap | null, ctx: MachineContext): void {
    const shards = this.data.shards
    if (!ctx.isLeader || map === null || map.epoch !== shards.epoch + 1 || !shards.settled) return
    this.propose(ctx, { type: 'config', map })
  }

  /**
   * The chunk at `req.cursor` of the move's stream: positions [0, K) are its K keys in key
   * order, then positions K + b are the session buckets b = 0 .. SESSION_BUCKETS - 1. Each
   * chunk holds at most `maxChunkKeys` keys and `maxChunkBytes` of keys and values, or whole
   * session buckets up to `maxChunkBytes` (at least one key or one bucket).
   */
  private chunk(move: OutgoingMove, req: SendKeysRequest, msg: GroupMessage): OutgoingGroupMessage<SendKeysResponse> {
    const keys = this.data.keysOf(move)
    const end = keys.length + SESSION_BUCKETS
    const entries: Array<readonly [string, Uint8Array]> = []
    const sessions: Array<readonly [string, ...EncodedSession]> = []
    // Watches: each moved key's floor; with session buckets, the floors of the keys of those
    // buckets that are gone here (deleted before the move) and a bound for the rest of each bucket.
    const floors: Array<readonly [string, number, number]> = []
    const bucketFloors: Array<readonly [number, number, number]> = []
    let bytes = 0
    let next = Math.min(req.cursor, end)
    const first = next
    if (next < keys.length) {
      while (next < keys.length && entries.length < this.limits.maxChunkKeys) {
        const key = keys[next]!
        const value = this.data.value(key) ?? new Uint8Array()
        if (entries.length > 0 && bytes + key.length + value.length > this.limits.maxChunkBytes) break
        entries.push([key, value])
        floors.push([key, ...this.data.floorOf(key)])
        bytes += key.length + value.length
        next++
      }
    } else {
      // Watches: the floors of keys gone here (deleted before the move), by bucket, ride with the sessions.
      const absent = this.data.absentFloors(move, next - keys.length, SESSION_BUCKETS)
      const absentByBucket = new Map<number, Array<readonly [string, WireRevision]>>()
      for (const entry of absent.keys) {
        const b = sessionBucket(entry[0])
        const list = absentByBucket.get(b)
        if (list === undefined) absentByBucket.set(b, [entry])
        else list.push(entry)
      }
      const bucketFloor = new Map(absent.buckets)
      const buckets = new Map<number, Array<readonly [string, ...EncodedSession]>>()
      for (const session of this.data.sessions()) {
        const b = sessionBucket(session[0])
        if (b < next - keys.length) continue
        const list = buckets.get(b)
        if (list === undefined) buckets.set(b, [session])
        else list.push(session)
      }
      while (next < end) {
        const b = next - keys.length
        const bucket = buckets.get(b) ?? []
        const gone = absentByBucket.get(b) ?? []
        const size = bucket.reduce((n, session) => n + sessionBytes(session), 0) + gone.reduce((n, [k]) => n + k.length + 16, 0)
        if (next > first && bytes + size > this.limits.maxChunkBytes) break
        sessions.push(...bucket)
        for (const [key, r] of gone) floors.push([key, r[0], r[1]])
        const floor = bucketFloor.get(b)
        if (floor !== undefined) bucketFloors.push([b, floor[0], floor[1]])
        bytes += size
        next++
      }
    }
    return {
      type: 'SendKeysResponse', toGroup: msg.fromGroup, to: msg.from, epoch: req.epoch, cursor: req.cursor, next, done: next >= end, entries, sessions,
      floors, bucketFloors,
    }
  }

  /**
   * Proposes `step` once per term (a repeat would be a no-op, but costs a log entry). A step
   * the core refused (a Raft leader handing over) is not counted: the next retry proposes it
   * again, or the group would wait for it for the rest of the term.
   */
  private propose(ctx: MachineContext, step: MigrationStep): void {
    if (ctx.term !== this.proposedInTerm) {
      // A new term: what an earlier term proposed may have been lost with it.
      this.proposed.clear()
      this.proposedInTerm = ctx.term
    }
    const key = step.type === 'install' ? `install:${step.epoch}:${step.from}:${step.cursor}` : step.type === 'config' ? `config:${step.map.epoch}` : `${step.type}:${step.epoch}:${'from' in step ? step.from : step.to}`
    if (this.proposed.has(key)) return
    if (ctx.propose({ kind: 'migration', v: 1, step })) this.proposed.add(key)
  }

  /** The replica of `group` to ask next: its believed leader, else the next one in turn. */
  private target(group: GroupSpec): string {
    let peers = this.peers.get(group.id)
    if (peers === undefined) {
      peers = new ReplicaGroup(group.id, group.replicas.map((r) => ({ address: r.id, id: r.id })), (id) => id)
      this.peers.set(group.id, peers)
    }
    const [first] = peers.roundOrder()
    // Unanswered asks move on: the next retry goes to the next replica unless an answer comes back.
    peers.doubt(first!)
    return first!
  }
}
