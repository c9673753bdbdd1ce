import type { ShardMap } from './shard-map.js'

/**
 * The client ↔ replica protocol. Messages are plain objects carried as MessagePack.
 * Keys are strings; values are bytes.
 */

export type KvOp =
  | { readonly op: 'get'; readonly key: string; readonly stale?: boolean }
  | { readonly op: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'append'; readonly key: string; readonly value: Uint8Array }
  | { readonly op: 'batchPut'; readonly entries: ReadonlyArray<readonly [string, Uint8Array]> }

export type WriteOp = Exclude<KvOp, { op: 'get' }>

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

export type AnyClientRequest = ClientRequest | StatusRequest

export type OpResult =
  | { readonly type: 'value'; readonly value: Uint8Array | null }
  | { readonly type: 'deleted'; readonly existed: boolean }
  | { readonly type: 'ok' }
  /** The controller's answers: a shard map (null: no map at the asked epoch), or the epoch a change made. */
  | { readonly type: 'shardMap'; readonly map: ShardMap | null }
  | { readonly type: 'epoch'; readonly epoch: number }

export type ErrorCode = 'NOT_LEADER' | 'TIMEOUT' | 'UNAVAILABLE' | 'BAD_REQUEST' | 'WRONG_SHARD' | 'SESSION_EXPIRED'

export type ClientResponse =
  | { readonly type: 'result'; readonly result: OpResult }
  | {
      readonly type: 'error'
      readonly code: ErrorCode
      readonly message: string
      /** With NOT_LEADER: the replica believed to lead, if known. */
      readonly leader?: string | null
      /** With WRONG_SHARD: the epoch of the shard map the replica's group is at. */
      readonly epoch?: number
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
