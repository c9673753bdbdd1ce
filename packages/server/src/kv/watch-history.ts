import { arcContains, hashKey, type ArcRange } from '@kv/hashring'
import { compareRevisions, isWireRevision, maxRevision, minRevision, type WatchEvent, type WireRevision } from '@kv/protocol'
import { assert } from '@kv/consensus'
import { Packr } from 'msgpackr'
import { sessionBucket } from './migration-driver.js'

const packr = new Packr({ useRecords: false, moreTypes: false })

/** Bounds of a group's change history (replicated state: the same on every replica). */
export interface HistoryLimits {
  /** Most events kept; past it the oldest log entries' events are dropped (compacted). */
  readonly maxHistoryEvents: number
  /** Most bytes of keys and values kept (about; 32 bytes counted per event besides). */
  readonly maxHistoryBytes: number
}

/** One change as the history keeps it (its revision is its entry's). */
interface HistoryEvent {
  readonly type: WatchEvent['type']
  readonly key: string
  readonly value?: Uint8Array
}

/** The events one log entry applied. */
interface HistoryEntry {
  readonly epoch: number
  readonly index: number
  readonly events: readonly HistoryEvent[]
  readonly bytes: number
}

/**
 * The arcs a group gained when it applied the map of `epoch` (at revision `at`), and what the
 * losers said about the keys' past: for each key they had events of an upper bound of the
 * revisions of all its events before the move (`floors`), and per key bucket one for the keys
 * they did not hold (`bucketFloors`). Kept while `at` is in the history window.
 */
interface Gain {
  readonly epoch: number
  readonly at: WireRevision
  readonly arcs: readonly ArcRange[]
  readonly bucketFloors: Map<number, WireRevision>
  /** Some install chunk came without floors (a log of an older release): unknown keys get [epoch, 0]. */
  legacy: boolean
  readonly floors: Map<string, WireRevision>
  /** The mirror rows holding `floors`, one per install chunk. */
  readonly floorRows: string[]
}

/** A floor of one moved key, as an install chunk carries it: `[key, epoch, index]`. */
export type KeyFloor = readonly [key: string, epoch: number, index: number]

export interface HistoryImage {
  readonly horizon: WireRevision
  readonly entries: ReadonlyArray<readonly [epoch: number, index: number, events: ReadonlyArray<EncodedEvent>]>
  readonly gains: ReadonlyArray<EncodedGain>
}

type EncodedEvent = readonly [type: number, key: string, value?: Uint8Array]
interface EncodedGain {
  readonly epoch: number
  readonly at: WireRevision
  readonly arcs: readonly ArcRange[]
  readonly bucketFloors?: ReadonlyArray<readonly [number, number, number]>
  readonly legacy: boolean
  readonly floors?: readonly KeyFloor[]
}

const TYPES: readonly WatchEvent['type'][] = ['put', 'append', 'delete']
const EVENT_OVERHEAD_BYTES = 32
const pad = (n: number) => n.toString().padStart(16, '0')
const ROW_META = 'meta'
const entryRow = (index: number) => `e:${pad(index)}`
const gainRow = (epoch: number) => `g:${pad(epoch)}`
const floorRow = (epoch: number, index: number) => `f:${pad(epoch)}:${pad(index)}`

export interface HistoryRead {
  readonly events: WatchEvent[]
  /** The revision of the last entry looked at (null: none after `from`). */
  readonly last: WireRevision | null
  /** Stopped at a bound: there are entries after `last` not looked at. */
  readonly more: boolean
}

/**
 * A group's recent changes, for watches: the events of the last log entries that changed keys,
 * each entry's revision `[epoch, index]` (see `@kv/protocol`'s revision.ts). Deterministic
 * replicated state: every replica appends the same entries as it applies the log and compacts
 * by the same bounds, so it is the same on every replica at one applied index; it goes into
 * snapshots and the state store (a data folder of a release before watches has none: the
 * history then starts where that replica started applying, and older revisions are COMPACTED).
 *
 * `horizon`: every event at or below it was dropped (or never kept): a watch from a revision
 * below it may have missed events and gets COMPACTED, never a silent gap.
 */
export class WatchHistory {
  horizon: WireRevision = [0, 0]
  private entries: HistoryEntry[] = []
  /** Entries before this position of `entries` are dropped (shifted out in batches). */
  private head = 0
  private eventCount = 0
  private bytes = 0
  private gains: Gain[] = []
  /** Derived: the revision of each key's last event in the window. */
  private lastByKey = new Map<string, WireRevision>()
  private sawMeta = false
  /** Floors read back at start-up before their gain's row (rows come in key order). */
  private readonly pendingFloors = new Map<number, { floors: KeyFloor[]; rows: string[] }>()
  // Mirror bookkeeping (rows changed since the last drain).
  private readonly trackChanges: boolean
  private dirtyRows = new Map<string, Uint8Array | null>()

  constructor(
    private readonly limits: HistoryLimits,
    trackChanges: boolean,
  ) {
    this.trackChanges = trackChanges
    // Every data folder written since watches came has the horizon row (see `loaded`).
    this.mark(ROW_META, () => packr.pack({ horizon: this.horizon }))
  }

  get size(): number {
    return this.eventCount
  }

  get byteSize(): number {
    return this.bytes
  }

  /** The newest entry's revision, or the horizon when the window is empty. */
  get latest(): WireRevision {
    const e = this.entries[this.entries.length - 1]
    return this.entries.length > this.head && e !== undefined ? [e.epoch, e.index] : this.horizon
  }

  // ---- applying ----

  /** Records the events of the entry at `[epoch, index]` (in apply order), then compacts. */
  append(epoch: number, index: number, events: readonly HistoryEvent[]): void {
    if (events.length === 0) return
    const rev: WireRevision = [epoch, index]
    assert(compareRevisions(rev, this.latest) > 0, () => `history entry ${epoch}.${index} is not after ${this.latest.join('.')}`)
    let bytes = 0
    for (const e of events) {
      bytes += EVENT_OVERHEAD_BYTES + e.key.length + (e.value?.length ?? 0)
      this.lastByKey.set(e.key, rev)
    }
    const entry: HistoryEntry = { epoch, index, events, bytes }
    this.entries.push(entry)
    this.eventCount += events.length
    this.bytes += bytes
    this.mark(entryRow(index), () => packEntry(entry))
    this.compact()
  }

  /** The group applied the map of `epoch` at `at` and gained `arcs`. */
  addGain(epoch: number, at: WireRevision, arcs: readonly ArcRange[]): void {
    if (arcs.length === 0) return
    const gain: Gain = { epoch, at, arcs: arcs.map((a) => ({ start: a.start, end: a.end })), bucketFloors: new Map(), legacy: false, floors: new Map(), floorRows: [] }
    this.gains.push(gain)
    this.mark(gainRow(epoch), () => packGain(gain))
  }

  /** An install chunk of the move at `epoch` applied at `index`: what the loser said of the keys' past. */
  addFloors(
    epoch: number,
    index: number,
    floors: readonly KeyFloor[] | undefined,
    bucketFloors: ReadonlyArray<readonly [number, number, number]> | undefined,
  ): void {
    const gain = this.gains.find((g) => g.epoch === epoch)
    if (gain === undefined) return // compacted already: nothing older than the horizon is answered anyway
    const cap: WireRevision = [epoch, 0]
    // Each floor is an upper bound; two chunks may name a key (its chunk and its bucket's): the larger holds.
    const bound = (old: WireRevision | undefined, r: WireRevision) => minRevision(old === undefined ? r : maxRevision(old, r), cap)
    if (floors === undefined) gain.legacy = true
    else {
      for (const [key, e, i] of floors) gain.floors.set(key, bound(gain.floors.get(key), [e, i]))
      if (floors.length > 0) {
        const row = floorRow(epoch, index)
        gain.floorRows.push(row)
        this.mark(row, () => packr.pack(floors.map(([k, e, i]) => [k, ...minRevision([e, i], cap)])))
      }
    }
    for (const [b, e, i] of bucketFloors ?? []) gain.bucketFloors.set(b, bound(gain.bucketFloors.get(b), [e, i]))
    this.mark(gainRow(epoch), () => packGain(gain))
  }

  private compact(): void {
    const { maxHistoryEvents, maxHistoryBytes } = this.limits
    let dropped = false
    // Bounded by the entries in the window.
    while (this.head < this.entries.length && (this.eventCount > maxHistoryEvents || this.bytes > maxHistoryBytes)) {
      const entry = this.entries[this.head++]!
      const rev: WireRevision = [entry.epoch, entry.index]
      this.eventCount -= entry.events.length
      this.bytes -= entry.bytes
      for (const e of entry.events) {
        const last = this.lastByKey.get(e.key)
        if (last !== undefined && compareRevisions(last, rev) === 0) this.lastByKey.delete(e.key)
      }
      this.horizon = rev
      this.mark(entryRow(entry.index), () => null)
      dropped = true
    }
    if (!dropped) return
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head)
      this.head = 0
    }
    this.mark(ROW_META, () => packr.pack({ horizon: this.horizon }))
    const keep: Gain[] = []
    for (const g of this.gains) {
      if (compareRevisions(g.at, this.horizon) > 0) keep.push(g)
      else {
        this.mark(gainRow(g.epoch), () => null)
        for (const row of [...g.floorRows, floorRow(g.epoch, g.at[1])]) this.mark(row, () => null)
      }
    }
    this.gains = keep
  }

  // ---- reading ----

  /** Position in `entries` of the first entry after `from`. */
  private firstAfter(from: WireRevision): number {
    let lo = this.head, hi = this.entries.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const e = this.entries[mid]!
      if (compareRevisions([e.epoch, e.index], from) <= 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /**
   * The events after `from` whose key `matches`, whole entries at a time, stopping once
   * `maxEvents` events or `maxBytes` bytes are in (the first matching entry always goes in whole).
   * `key`: a single key's watch, answered at once when it has no event after `from`.
   */
  read(from: WireRevision, matches: (key: string) => boolean, maxEvents: number, maxBytes: number, key?: string): HistoryRead {
    const events: WatchEvent[] = []
    if (key !== undefined) {
      const last = this.lastByKey.get(key)
      if (last === undefined || compareRevisions(last, from) <= 0) return { events, last: this.latestAfter(from), more: false }
    }
    let bytes = 0
    let last: WireRevision | null = null
    // Bounded by the entries in the window.
    for (let i = this.firstAfter(from); i < this.entries.length; i++) {
      if (events.length >= maxEvents || bytes >= maxBytes) return { events, last, more: true }
      const entry = this.entries[i]!
      const revision: WireRevision = [entry.epoch, entry.index]
      for (const e of entry.events) {
        if (!matches(e.key)) continue
        events.push(e.value === undefined ? { type: e.type, key: e.key, revision } : { type: e.type, key: e.key, value: e.value, revision })
        bytes += EVENT_OVERHEAD_BYTES + e.key.length + (e.value?.length ?? 0)
      }
      last = revision
    }
    return { events, last, more: false }
  }

  private latestAfter(from: WireRevision): WireRevision | null {
    const latest = this.latest
    return this.entries.length > this.head && compareRevisions(latest, from) > 0 ? latest : null
  }

  /**
   * Whether a watch of `key` from `from` sees every event of the key after `from` here: null if
   * so, else the oldest revision it may start from. Events dropped from the window are one
   * reason; the other is a move: when this group gained the key's arc at epoch e, the key's
   * earlier events happened in another group, and the loser's word on them (the floor carried
   * with the key) must be at or below `from`.
   */
  gapFor(key: string, from: WireRevision): WireRevision | null {
    if (compareRevisions(from, this.horizon) < 0) return this.oldestFor(key)
    const gain = this.latestGain(key)
    if (gain === null || compareRevisions(gain.at, from) <= 0) return null
    const floor = this.gainFloor(gain, key)
    return compareRevisions(from, floor) < 0 ? maxRevision(floor, this.horizon) : null
  }

  /** The oldest revision a watch of `key` can start from here. */
  oldestFor(key: string): WireRevision {
    const gain = this.latestGain(key)
    return gain === null ? this.horizon : maxRevision(this.horizon, this.gainFloor(gain, key))
  }

  private latestGain(key: string): Gain | null {
    if (this.gains.length === 0) return null
    const hash = hashKey(key)
    for (let i = this.gains.length - 1; i >= 0; i--) {
      const g = this.gains[i]!
      if (g.arcs.some((a) => arcContains(a, hash))) return g
    }
    return null
  }

  private gainFloor(gain: Gain, key: string): WireRevision {
    const cap: WireRevision = [gain.epoch, 0]
    // A chunk of an older release carried no floors: its keys' floors are unknown.
    return gain.floors.get(key) ?? (gain.legacy ? cap : gain.bucketFloors.get(sessionBucket(key)) ?? cap)
  }

  /**
   * For a move out of this group (the key is frozen here): an upper bound of the revisions of
   * every event the key ever had (here or, before a move in, elsewhere).
   */
  floorOf(key: string): WireRevision {
    const last = this.lastByKey.get(key)
    if (last !== undefined) return last
    const gain = this.latestGain(key)
    // In the window with no event since: the key came with that move, and its floor with it.
    if (gain !== null) return this.gainFloor(gain, key)
    return this.horizon
  }

  /**
   * For a move out of this group, the keys of `arcs` in buckets [fromBucket, toBucket) that it
   * does not hold (deleted before the move) but has events of, each with its last revision; and
   * for each of those buckets, an upper bound of every event of its other keys not held here
   * (their events are all at or below the horizon, or came with a move in, bounded by its floors).
   */
  absentFloors(
    arcs: readonly ArcRange[],
    held: (key: string) => boolean,
    fromBucket: number,
    toBucket: number,
  ): { keys: Array<readonly [string, WireRevision]>; buckets: Array<readonly [number, WireRevision]> } {
    const keys: Array<readonly [string, WireRevision]> = []
    for (const [key, last] of this.lastByKey) {
      if (held(key)) continue
      const b = sessionBucket(key)
      if (b < fromBucket || b >= toBucket) continue
      const hash = hashKey(key)
      if (arcs.some((a) => arcContains(a, hash))) keys.push([key, last])
    }
    keys.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    const buckets: Array<readonly [number, WireRevision]> = []
    for (let b = fromBucket; b < toBucket; b++) {
      let floor = this.horizon
      for (const g of this.gains) floor = maxRevision(floor, g.legacy ? [g.epoch, 0] : g.bucketFloors.get(b) ?? [g.epoch, 0])
      buckets.push([b, floor])
    }
    return { keys, buckets }
  }

  // ---- snapshots ----

  image(): HistoryImage {
    return {
      horizon: this.horizon,
      entries: this.entries.slice(this.head).map((e) => [e.epoch, e.index, e.events.map(encodeEvent)] as const),
      gains: this.gains.map(encodeGain),
    }
  }

  /** Replaces the whole history (a snapshot); `image` absent: a snapshot of a release before watches. */
  restore(image: HistoryImage | undefined, start: WireRevision): void {
    this.reset()
    if (image === undefined) {
      this.horizon = start
      return
    }
    this.horizon = [image.horizon[0], image.horizon[1]]
    for (const [epoch, index, events] of image.entries) this.load(epoch, index, events.map(decodeEvent))
    for (const g of image.gains) this.gains.push(decodeGain(g))
    this.dirtyRows.clear()
  }

  private reset(): void {
    this.horizon = [0, 0]
    this.entries = []
    this.head = 0
    this.eventCount = 0
    this.bytes = 0
    this.gains = []
    this.lastByKey = new Map()
    this.dirtyRows.clear()
  }

  private load(epoch: number, index: number, events: HistoryEvent[]): void {
    let bytes = 0
    for (const e of events) {
      bytes += EVENT_OVERHEAD_BYTES + e.key.length + (e.value?.length ?? 0)
      this.lastByKey.set(e.key, [epoch, index])
    }
    this.entries.push({ epoch, index, events, bytes })
    this.eventCount += events.length
    this.bytes += bytes
  }

  // ---- durable mirror: one row per entry, gain and install chunk, and the horizon ----

  /** Rows changed since the last drain (null deletes). */
  drain(): Array<readonly [string, Uint8Array | null]> {
    const rows = [...this.dirtyRows]
    this.dirtyRows = new Map()
    return rows
  }

  *rows(): IterableIterator<readonly [string, Uint8Array]> {
    yield [ROW_META, packr.pack({ horizon: this.horizon })]
    for (let i = this.head; i < this.entries.length; i++) yield [entryRow(this.entries[i]!.index), packEntry(this.entries[i]!)]
    for (const g of this.gains) {
      yield [gainRow(g.epoch), packGain(g)]
      // The floors go in one row (deleted with the gain): the chunks they came in do not matter any more.
      if (g.floors.size > 0) yield [floorRow(g.epoch, g.at[1]), packr.pack([...g.floors].map(([k, r]) => [k, ...r]))]
    }
  }

  /** One row read back at start-up (rows arrive in key order: entries, floors, gains, meta). */
  loadRow(key: string, value: Uint8Array): void {
    const raw = packr.unpack(value) as unknown
    if (key === ROW_META) {
      this.horizon = checkRevision((raw as { horizon?: unknown }).horizon)
      this.sawMeta = true
    } else if (key.startsWith('e:')) {
      const { epoch, events } = raw as { epoch: number; events: EncodedEvent[] }
      this.load(epoch, Number(key.slice(2)), events.map(decodeEvent))
    } else if (key.startsWith('g:')) {
      const g = decodeGain(raw as EncodedGain)
      const pending = this.pendingFloors.get(g.epoch)
      if (pending !== undefined) for (const [k, e, i] of pending.floors) g.floors.set(k, [e, i])
      if (pending !== undefined) g.floorRows.push(...pending.rows)
      this.pendingFloors.delete(g.epoch)
      this.gains.push(g)
    } else if (key.startsWith('f:')) {
      const epoch = Number(key.slice(2, 18))
      const list = this.pendingFloors.get(epoch) ?? { floors: [], rows: [] }
      list.floors.push(...(raw as KeyFloor[]))
      list.rows.push(key)
      this.pendingFloors.set(epoch, list)
    }
  }

  /** Start-up is done. No history row (a data folder of a release before watches): it starts at `start`. */
  loaded(start: WireRevision): void {
    this.pendingFloors.clear()
    this.gains.sort((a, b) => a.epoch - b.epoch)
    if (!this.sawMeta) this.horizon = start
    this.dirtyRows.clear()
    this.mark(ROW_META, () => packr.pack({ horizon: this.horizon }))
  }

  private mark(row: string, value: () => Uint8Array | null): void {
    if (this.trackChanges) this.dirtyRows.set(row, value())
  }
}

function encodeEvent(e: HistoryEvent): EncodedEvent {
  return e.value === undefined ? [TYPES.indexOf(e.type), e.key] : [TYPES.indexOf(e.type), e.key, e.value]
}

function decodeEvent([t, key, value]: EncodedEvent): HistoryEvent {
  const type = TYPES[t]
  if (type === undefined) throw new Error(`history: unknown event type ${t}`)
  return value === undefined ? { type, key } : { type, key, value: toBytes(value) }
}

function packEntry(entry: HistoryEntry): Uint8Array {
  return packr.pack({ epoch: entry.epoch, events: entry.events.map(encodeEvent) })
}

function encodeGain(g: Gain): EncodedGain {
  return {
    epoch: g.epoch, at: g.at, arcs: g.arcs, legacy: g.legacy,
    bucketFloors: [...g.bucketFloors].map(([b, r]) => [b, r[0], r[1]] as const),
    floors: [...g.floors].map(([k, r]) => [k, r[0], r[1]] as const),
  }
}

function packGain(g: Gain): Uint8Array {
  // The floors are in rows of their own (one per install chunk), so the gain's row stays small.
  return packr.pack({ epoch: g.epoch, at: g.at, arcs: g.arcs, legacy: g.legacy, bucketFloors: [...g.bucketFloors].map(([b, r]) => [b, r[0], r[1]]) })
}

function decodeGain(raw: EncodedGain): Gain {
  const floors = new Map<string, WireRevision>()
  for (const [k, e, i] of raw.floors ?? []) floors.set(k, [e, i])
  return {
    epoch: raw.epoch,
    at: checkRevision(raw.at),
    arcs: raw.arcs.map((a) => ({ start: a.start, end: a.end })),
    bucketFloors: new Map((raw.bucketFloors ?? []).map(([b, e, i]) => [b, checkRevision([e, i])] as const)),
    legacy: raw.legacy,
    floors,
    floorRows: [],
  }
}

function checkRevision(x: unknown): WireRevision {
  if (!isWireRevision(x)) throw new Error(`history: bad revision ${JSON.stringify(x)}`)
  return [x[0], x[1]]
}

/** msgpackr may hand back Buffers; keep one type inside the state machine. */
function toBytes(v: Uint8Array): Uint8Array {
  return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.length)
}
