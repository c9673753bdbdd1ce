import { checkShardMap, isWireRevision, type ClientResponse, type ErrorCode, type MembersResponse as WireMembersResponse, type OpResult, type ReplicaStatus as WireReplicaStatus, type WatchEvent } from '@kv/protocol'

/*
 * The gateway for what replicas send back: a reply off the network is `unknown` until it
 * passes here. An invalid reply is a typed rejection (`{ invalid }`), never a throw.
 */

/**
 * A replica's view of its group, as `status()` returns it. Declared here so that the
 * published types stand alone; the checks below keep it equal to `@kv/protocol`'s.
 */
export interface ReplicaStatus {
  readonly type: 'status'
  /** The replica's id. */
  readonly replicaId: string
  readonly role: string
  readonly term: number
  readonly leader: string | null
  readonly commitIndex: number
  readonly appliedIndex: number
  readonly lastIndex: number
  /** First log index the replica still holds (entries below it live only in its snapshot). */
  readonly firstIndex?: number
  /** When asked for: a digest of the replica's data, equal on replicas at one applied index. */
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

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const sameAsWire: Same<ReplicaStatus, WireReplicaStatus> = true
void sameAsWire

export type Parsed<T> = T | { readonly invalid: string }

/** A group's membership as one replica applied it (`kv member`), with members' addresses. */
export interface MembersView {
  readonly type: 'members'
  /** The replica that answered. */
  readonly replicaId: string
  readonly voters: readonly string[]
  readonly learners: readonly string[]
  /** id → "host:port" of the members admitted by `member add` (the others are in the config). */
  readonly addresses: Readonly<Record<string, string>>
  /** The log index of the membership change this view is at (0: the initial membership). */
  readonly index: number
}
const membersSameAsWire: Same<MembersView, WireMembersResponse> = true
void membersSameAsWire

/** A reply to a `member` request. */
export function parseMembersResponse(raw: unknown): Parsed<MembersView> {
  if (!isObject(raw) || raw.type !== 'members') return { invalid: 'member reply must be an object of type "members"' }
  const ids = (x: unknown): x is string[] => Array.isArray(x) && x.every((id) => typeof id === 'string')
  const { replicaId, voters, learners, addresses, index } = raw
  if (typeof replicaId !== 'string' || !ids(voters) || !ids(learners)) return { invalid: 'member reply without a replica id, voters and learners' }
  if (!isObject(addresses) || !Object.values(addresses).every((a) => typeof a === 'string')) return { invalid: 'member reply addresses must map ids to "host:port"' }
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) return { invalid: 'member reply index must be a non-negative integer' }
  return { type: 'members', replicaId, voters, learners, addresses: addresses as Record<string, string>, index }
}

const ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'NOT_LEADER',
  'TIMEOUT',
  'UNAVAILABLE',
  'BAD_REQUEST',
  'WRONG_SHARD',
  'SESSION_EXPIRED',
  'COMPACTED',
])

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** msgpackr hands back Buffers; callers get plain Uint8Arrays (a view, no copy). */
export function toPlainBytes(v: Uint8Array): Uint8Array {
  return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
}

function parseResult(raw: unknown): Parsed<OpResult> {
  if (!isObject(raw)) return { invalid: 'result must be an object' }
  switch (raw.type) {
    case 'ok':
      return { type: 'ok' }
    case 'deleted':
      return typeof raw.existed === 'boolean' ? { type: 'deleted', existed: raw.existed } : { invalid: 'deleted without a boolean existed' }
    case 'value': {
      if (raw.revision !== undefined && !isWireRevision(raw.revision)) return { invalid: 'value result with a malformed revision' }
      const revision = raw.revision === undefined ? {} : { revision: raw.revision }
      if (raw.value === null) return { type: 'value', value: null, ...revision }
      if (raw.value instanceof Uint8Array) return { type: 'value', value: toPlainBytes(raw.value), ...revision }
      return { invalid: 'value result must carry bytes or null' }
    }
    case 'scan': {
      const entries = raw.entries
      const ok = Array.isArray(entries) && entries.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && e[1] instanceof Uint8Array)
      if (!ok || typeof raw.more !== 'boolean') return { invalid: 'scan result must carry [key, bytes] entries and more' }
      return { type: 'scan', entries: (entries as Array<[string, Uint8Array]>).map(([k, v]) => [k, toPlainBytes(v)] as const), more: raw.more }
    }
    case 'events': {
      if (!Array.isArray(raw.events) || !isWireRevision(raw.progress) || typeof raw.more !== 'boolean') return { invalid: 'events result must carry events, progress and more' }
      const events: WatchEvent[] = []
      for (const e of raw.events as unknown[]) {
        const event = parseWatchEvent(e)
        if (event === null) return { invalid: 'events result with a malformed event' }
        events.push(event)
      }
      return { type: 'events', events, progress: raw.progress, more: raw.more, ...(raw.ended === true ? { ended: true } : {}) }
    }
    case 'shardMap':
      if (raw.map === null) return { type: 'shardMap', map: null }
      return checkShardMap(raw.map) ? { type: 'shardMap', map: raw.map } : { invalid: 'shardMap result with a malformed map' }
    case 'epoch':
      return typeof raw.epoch === 'number' && Number.isSafeInteger(raw.epoch) ? { type: 'epoch', epoch: raw.epoch } : { invalid: 'epoch result without an epoch' }
    default:
      return { invalid: `unknown result type ${JSON.stringify(raw.type)}` }
  }
}

function parseWatchEvent(raw: unknown): WatchEvent | null {
  if (!isObject(raw) || typeof raw.key !== 'string' || !isWireRevision(raw.revision)) return null
  const revision = raw.revision
  switch (raw.type) {
    case 'put':
    case 'append':
      return raw.value instanceof Uint8Array ? { type: raw.type, key: raw.key, value: toPlainBytes(raw.value), revision } : null
    case 'delete':
      return { type: 'delete', key: raw.key, revision }
    default:
      return null
  }
}

/** A reply to a `kv` request. */
export function parseClientResponse(raw: unknown): Parsed<ClientResponse> {
  if (!isObject(raw)) return { invalid: 'reply must be an object' }
  if (raw.type === 'result') {
    const result = parseResult(raw.result)
    return 'invalid' in result ? result : { type: 'result', result }
  }
  if (raw.type !== 'error') return { invalid: `unknown reply type ${JSON.stringify(raw.type)}` }
  if (typeof raw.code !== 'string' || !ERROR_CODES.has(raw.code)) return { invalid: `unknown error code ${JSON.stringify(raw.code)}` }
  const code = raw.code as ErrorCode
  const message = typeof raw.message === 'string' ? raw.message : code
  const leader = typeof raw.leader === 'string' && raw.leader !== '' ? raw.leader : null
  if (code === 'COMPACTED') return isWireRevision(raw.oldest) ? { type: 'error', code, message, oldest: raw.oldest } : { invalid: 'COMPACTED without the oldest revision' }
  if (code !== 'NOT_LEADER') return { type: 'error', code, message }
  const leaderAddress = typeof raw.leaderAddress === 'string' && raw.leaderAddress.length <= 300 ? raw.leaderAddress : undefined
  return { type: 'error', code, message, leader, ...(leaderAddress === undefined ? {} : { leaderAddress }) }
}

/**
 * A reply to a `status` request. `from` is the replica id of the connection's welcome, used
 * when a replica leaves `replicaId` out.
 */
export function parseReplicaStatus(raw: unknown, from: string): Parsed<ReplicaStatus> {
  if (!isObject(raw) || raw.type !== 'status') return { invalid: 'status reply must be an object of type "status"' }
  const { role, term, leader, commitIndex, appliedIndex, lastIndex } = raw
  const id = typeof raw.replicaId === 'string' ? raw.replicaId : from
  if (typeof id !== 'string' || typeof role !== 'string') return { invalid: 'status reply without a string id and role' }
  if (leader !== null && typeof leader !== 'string') return { invalid: 'status leader must be a string or null' }
  const counts = [term, commitIndex, appliedIndex, lastIndex]
  if (!counts.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) {
    return { invalid: 'status term and indexes must be non-negative integers' }
  }
  return {
    type: 'status',
    replicaId: id,
    role,
    term: term as number,
    leader,
    commitIndex: commitIndex as number,
    appliedIndex: appliedIndex as number,
    lastIndex: lastIndex as number,
    ...(typeof raw.firstIndex === 'number' && Number.isSafeInteger(raw.firstIndex) && raw.firstIndex >= 0 ? { firstIndex: raw.firstIndex } : {}),
    ...(typeof raw.digest === 'string' ? { digest: raw.digest } : {}),
    ...(typeof raw.epoch === 'number' ? { epoch: raw.epoch } : {}),
    ...(typeof raw.keys === 'number' ? { keys: raw.keys } : {}),
    ...(Array.isArray(raw.migrations) && raw.migrations.every((m) => typeof m === 'string') ? { migrations: raw.migrations } : {}),
    ...(typeof raw.version === 'string' ? { version: raw.version } : {}),
    ...(typeof raw.uptimeSeconds === 'number' && raw.uptimeSeconds >= 0 ? { uptimeSeconds: raw.uptimeSeconds } : {}),
    ...(typeof raw.dataBytes === 'number' && raw.dataBytes >= 0 ? { dataBytes: raw.dataBytes } : {}),
  }
}
