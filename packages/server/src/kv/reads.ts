import { compareRevisions, type ClientResponse, type KvOp, type ScanOp, type WatchEvent, type WatchOp, type WireRevision } from '@kv/protocol'
import type { ReadHold } from '../state-machine.js'
import type { ShardState } from './shards.js'
import type { SortedKeys } from './sorted-keys.js'
import type { WatchHistory } from './watch-history.js'

/** What the range read and the watch poll need of the KV machine. */
export interface ReadableKv {
  readonly shards: ShardState | null
  readonly history: WatchHistory
  readonly sortedKeys: SortedKeys
  readonly appliedIndex: number
  get(key: string): Uint8Array | null
  serves(key: string): boolean
  wrongShard(key: string | null): ClientResponse
}

/** The group's current revision: its epoch and applied index. */
export function currentRevision(kv: ReadableKv): WireRevision {
  return [kv.shards?.epoch ?? 0, kv.appliedIndex]
}

/**
 * One group's part of a range read: the keys it serves in the range, in key order, bounded by
 * `limit` and `maxBytes` (the first key always goes in). A group answers only at the epoch the
 * client routes by, and only once every arc it gained has its data; otherwise WRONG_SHARD (the
 * client refreshes its map and asks again), so the groups' parts of one page never overlap or
 * leave a hole. Keys of arcs it is giving away (frozen) are left to the gainer.
 */
export function answerScan(kv: ReadableKv, op: ScanOp, maxBytes: number): ClientResponse {
  const shards = kv.shards
  if (shards !== null) {
    if (op.epoch !== shards.epoch) return kv.wrongShard(null)
    if (shards.incoming.some((m) => m.state !== 'ready')) return kv.wrongShard(null)
  }
  const keys = op.reverse === true ? kv.sortedKeys.descending(op.start, op.end) : kv.sortedKeys.ascending(op.start, op.end)
  const entries: Array<readonly [string, Uint8Array]> = []
  let bytes = 0
  let more = false
  // Bounded by `limit` served keys (and the frozen keys passed on the way).
  for (const key of keys) {
    if (!kv.serves(key)) continue
    const value = kv.get(key)!
    const size = key.length + value.length
    if (entries.length >= op.limit || (entries.length > 0 && bytes + size > maxBytes)) {
      more = true
      break
    }
    entries.push([key, value])
    bytes += size
  }
  return { type: 'result', result: { type: 'scan', entries, more } }
}

function answer(events: WatchEvent[], progress: WireRevision, more: boolean, ended = false): ClientResponse {
  return { type: 'result', result: { type: 'events', events, progress, more, ...(ended ? { ended: true } : {}) } }
}

function compacted(oldest: WireRevision, what: string): ClientResponse {
  return {
    type: 'error',
    code: 'COMPACTED',
    message: `${what}: this group's history starts after the asked revision; the oldest it can resume from is ${oldest[0]}.${oldest[1]}`,
    oldest,
  }
}

/**
 * A watch poll (see `WatchOp`): the matching events after `fromRevision`, or, when there are
 * none yet, a hold until an apply brings some (the shell asks again after each apply and, at the
 * poll's deadline, with `final`). Answered at once, empty, when the poll's revision is of an
 * older epoch than the group's (the client learns the new epoch: a prefix watch across groups
 * waits for it). A key the group does not serve and has no more events of is WRONG_SHARD; a prefix
 * watch of a group outside its own shard map ends (`ended`).
 */
export function answerWatch(kv: ReadableKv, op: WatchOp, final: boolean, maxBytes: number): ClientResponse | ReadHold<KvOp> {
  const progress = currentRevision(kv)
  const from = op.fromRevision
  if (from === null) return answer([], progress, false)
  const history = kv.history
  const key = op.key
  const what = key !== undefined ? `watch ${JSON.stringify(key)}` : `watch prefix ${JSON.stringify(op.prefix)}`
  const prefix = op.prefix ?? ''
  const matches = key !== undefined ? (k: string) => k === key : (k: string) => k.startsWith(prefix)
  if (key !== undefined && !kv.serves(key)) {
    // The key is not (or not yet) served here. Its events this group still has are handed out
    // (a loser drains before the watch moves on); then WRONG_SHARD sends the watch to the group
    // that has the key now, or that will once its data is in.
    const read = history.read(from, matches, op.maxEvents, maxBytes, key)
    if (read.events.length === 0) return kv.wrongShard(key)
    const gap = history.gapFor(key, from)
    if (gap !== null) return compacted(gap, what)
    // Progress is the key's last event here: below the epoch it left at, so the watch resumes
    // from it at the group that has the key now, where a revision of this group's would mean
    // nothing (the two groups' revisions of one epoch are not comparable).
    return answer(read.events, read.events[read.events.length - 1]!.revision, true)
  }
  const gap = key !== undefined ? history.gapFor(key, from) : compareRevisions(from, history.horizon) < 0 ? history.horizon : null
  if (gap !== null) return compacted(gap, what)
  const read = history.read(from, matches, op.maxEvents, maxBytes, key)
  if (read.events.length > 0) return answer(read.events, read.more ? read.last! : progress, read.more)
  if (key === undefined && !isMember(kv)) return answer([], progress, false, true)
  if (final || op.waitMs === 0 || from[0] < progress[0]) return answer([], progress, false)
  // Nothing matched up to `read.last`: the retry looks only at what comes after it.
  return { type: 'hold', waitMs: op.waitMs, retry: read.last === null ? op : { ...op, fromRevision: read.last } }
}

/** Is this group in its own shard map (an unsharded group always is)? */
function isMember(kv: ReadableKv): boolean {
  const shards = kv.shards
  if (shards === null) return true
  return shards.map !== null && shards.map.groups.some((g) => g.id === shards.groupId)
}
