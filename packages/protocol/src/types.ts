import type { WireRevision } from './revision.js'
import type { ShardMap } from './shard-map.js'

/**
 * The client ↔ replica protocol. Messages are plain objects carried as MessagePack.
 * Keys are strings; values are bytes.
 */

export type KvOp =
  /** `withRevision`: also answer the group's revision at the read (a key watch resumes from it). */
  | { readonly op: 'get'; readonly key: string; readonly stale?: boolean; readonly withRevision?: boolean }
  | { readonly op: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'append'; readonly key: string; readonly value: Uint8Array }
  | { readonly op: 'batchPut'; readonly entries: ReadonlyArray<readonly [string, Uint8Array]> }
  | ScanOp
  | WatchOp

/** The operations that are logged (the others are reads). */
export type WriteOp = Exclude<KvOp, { op: 'get' | 'scan' | 'watch' }>

/** A read operation: answered after a read barrier, never logged. */
export type ReadOp = Extract<KvOp, { op: 'get' | 'scan' | 'watch' }>

/**
 * One group's part of a range read: the keys it serves in `[start, end)` (`end` null: no upper
 * bound), in key order (`reverse`: descending), at most `limit` of them. `epoch` is the shard map
 * the client routes by: a group at another epoch, or still waiting for data of arcs it gained,
 * answers WRONG_SHARD and the client refreshes its map.
 */
export interface ScanOp {
  readonly op: 'scan'
  readonly start: string
  readonly end: string | null
  readonly limit: number
  readonly reverse?: boolean
  readonly epoch: number
}

/**
 * A long poll of a group's change history: the events after `fromRevision` of `key`, or of every
 * key starting with `prefix` (exactly one of the two), at most about `maxEvents` (whole log
 * entries), held by the leader up to `waitMs` when there are none yet. `fromRevision` null: no
 * events, just the group's current revision (where a watch "from now" starts).
 */
export interface WatchOp {
  readonly op: 'watch'
  readonly key?: string
  readonly prefix?: string
  readonly fromRevision: WireRevision | null
  readonly maxEvents: number
  readonly waitMs: number
}

/** One change of a key. `append` carries the appended bytes (the new value is the old one followed by them). */
export interface WatchEvent {
  readonly type: 'put' | 'append' | 'delete'
  readonly key: string
  /** put: the value; append: the bytes appended; delete: absent. */
  readonly value?: Uint8Array
  readonly revision: WireRevision
}

/**
 * One client request. Writes carry the client's session: `clientId`, a per-client `seq`
 * (1, 2, 3, ... in issue order) and `ackedSeq`: every answer with seq ≤ ackedSeq has been
 * received, so the replicas may forget them. A retried write reuses its seq and is answered
 * from the session, never applied twice. Reads carry seq 0.
 */
export interface ClientRequest {
  readonly type: 'kv'
  readonly clientId: string
  readonly seq: number
  readonly ackedSeq: number
  readonly op: KvOp
}

/** A status query (for `kv status`): answered by any replica without consensus. */
export interface StatusRequest {
  readonly type: 'status'
  /** Also compute a digest of the replica's whole state (costs a pass over it). */
  readonly digest?: boolean
}

/**
 * A membership admin request (for `kv member add|promote|remove|list`), answered by a
 * `MembersResponse`: `list` by any replica without consensus (its applied view), the changes
 * by the group's leader once the change's entry is applied (Paxos: chosen; it governs slots
 * α later, see docs/design.md). `address` (host:port) goes with `add`: the new replica's.
 */
export interface MemberRequest {
  readonly type: 'member'
  readonly action: 'add' | 'promote' | 'remove' | 'list'
  /** The replica the change is about (not `id`: the transport numbers requests with that field). */
  readonly replicaId?: string
  readonly address?: string
}

export type AnyClientRequest = ClientRequest | StatusRequest | MemberRequest

/** A group's membership as a replica applied it, with the addresses the log gave its members. */
export interface MembersResponse {
  readonly type: 'members'
  readonly replicaId: string
  readonly voters: readonly string[]
  readonly learners: readonly string[]
  /** id → host:port, for the members whose address a membership entry carried (joined by `add`). */
  readonly addresses: Readonly<Record<string, string>>
  /** The index of the membership entry this view is at (0: the initial membership). */
  readonly index: number
}

export type OpResult =
  /** `revision`: with `get`'s `withRevision`, the group's revision the value was read at. */
  | { readonly type: 'value'; readonly value: Uint8Array | null; readonly revision?: WireRevision }
  | { readonly type: 'deleted'; readonly existed: boolean }
  | { readonly type: 'ok' }
  /** The controller's answers: a shard map (null: no map at the asked epoch), or the epoch a change made. */
  | { readonly type: 'shardMap'; readonly map: ShardMap | null }
  | { readonly type: 'epoch'; readonly epoch: number }
  /** A group's part of a scan; `more`: it had more keys in the range than it sent. */
  | { readonly type: 'scan'; readonly entries: ReadonlyArray<readonly [string, Uint8Array]>; readonly more: boolean }
  /**
   * A watch poll's answer: the events after the asked revision, in log order, and `progress`:
   * every matching event at or below it has been sent (with `more`, the group has further events:
   * poll again at once). `ended`: the group is not in its shard map and has nothing more for a
   * prefix watch (it was removed; a later map may add it back).
   */
  | { readonly type: 'events'; readonly events: readonly WatchEvent[]; readonly progress: WireRevision; readonly more: boolean; readonly ended?: boolean }

export type ErrorCode = 'NOT_LEADER' | 'TIMEOUT' | 'UNAVAILABLE' | 'BAD_REQUEST' | 'WRONG_SHARD' | 'SESSION_EXPIRED' | 'COMPACTED'

export type ClientResponse =
  | { readonly type: 'result'; readonly result: OpResult }
  | {
      readonly type: 'error'
      readonly code: ErrorCode
      readonly message: string
      /** With NOT_LEADER: the replica believed to lead, if known. */
      readonly leader?: string | null
      /** With NOT_LEADER: where that replica is reached ("host:port"), when the replica knows
       * (a member added by `kv member add` is in no config a client may hold). */
      readonly leaderAddress?: string
      /** With WRONG_SHARD: the epoch of the shard map the replica's group is at. */
      readonly epoch?: number
      /** With COMPACTED: the oldest revision a watch of this key (or prefix) may resume from here. */
      readonly oldest?: WireRevision
    }

export interface ReplicaStatus {
  readonly type: 'status'
  /** The replica's id. (Not `id`: the transport uses `id` to correlate requests and replies.) */
  readonly replicaId: string
  readonly role: string
  readonly term: number
  readonly leader: string | null
  readonly commitIndex: number
  readonly appliedIndex: number
  readonly lastIndex: number
  /** First log index the replica still holds (entries below it live only in its snapshot). */
  readonly firstIndex?: number
  /** With `StatusRequest.digest`: a digest of the user-visible data, equal on replicas at one applied index. */
  readonly digest?: string
  /** Shard groups: the shard-map epoch applied, keys held, migrations under way ("g1→g3 pulling"). */
  readonly epoch?: number
  readonly keys?: number
  readonly migrations?: readonly string[]
  /** The node process: the kv release it runs, seconds since it started, bytes in its data folder. */
  readonly version?: string
  readonly uptimeSeconds?: number
  readonly dataBytes?: number
}
