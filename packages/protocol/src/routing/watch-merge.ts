import { compareRevisions, formatRevision, maxRevision, parseRevision, type WireRevision } from '../revision.js'
import type { WatchEvent } from '../types.js'

/** One group's poll answer, as the merge takes it. */
export interface StreamAnswer {
  readonly events: readonly WatchEvent[]
  /** Every event of the group at or below it has been received. */
  readonly progress: WireRevision
  readonly ended?: boolean
}

/** An event with the group it came from. */
export interface MergedEvent extends WatchEvent {
  readonly group: string
}

interface Stream {
  readonly id: string
  /** Received through (null: not heard from yet, a watch "from now"). */
  position: WireRevision | null
  /** Everything at or below it has been handed out (the resume point of this group). */
  delivered: WireRevision | null
  readonly buffer: WatchEvent[]
  /** In the shard map the watch routes by. */
  member: boolean
  /** Not in the map since this epoch (the first map the watch saw without it). */
  leftAt: number
  /** Nothing more will come from it: it left the map and said so, or applied a map without it. */
  ended: boolean
}

/**
 * The merge rule of a prefix watch across shard groups: one stream of events per group, each in
 * its group's revision order; an event of epoch E is handed out only once every group stream
 * the watch follows has reported progress at an epoch ≥ E, and the map the watch routes by is
 * at epoch ≥ E. Why: a key that moves from group A to group B at epoch e was frozen at A when A
 * applied map e, so all of its A-events have epochs below e and all of its B-events at least e;
 * once A reports progress at epoch ≥ e every A-event of the key has been received, and handing out
 * events in epoch order puts them before the B-events. Within one epoch every key has events in
 * one group only, so the groups' events of one epoch may interleave in any order.
 *
 * Groups that leave the map are followed until they end (their progress reaches an epoch whose
 * map does not have them, or they say they have nothing more); groups that join are followed from
 * the first epoch after the map the watch knew before. Pure: the caller polls and feeds answers
 * (`@kv/client`'s prefix watches and the simulator's watchers decide with this same code).
 */
export class WatchMerge {
  #mapEpoch: number
  readonly #streams = new Map<string, Stream>()

  /**
   * `start`: each group's position to poll from (null: from now). `mapEpoch`: the epoch of the map
   * naming `groups` (0 without one).
   */
  constructor(mapEpoch: number, groups: ReadonlyArray<readonly [id: string, start: WireRevision | null]>) {
    this.#mapEpoch = mapEpoch
    for (const [id, start] of groups) this.#add(id, start)
  }

  get mapEpoch(): number {
    return this.#mapEpoch
  }

  #add(id: string, start: WireRevision | null): void {
    this.#streams.set(id, { id, position: start, delivered: start, buffer: [], member: true, leftAt: 0, ended: false })
  }

  /** The groups still to poll, each with the revision to poll from. */
  active(): Array<{ readonly id: string; readonly from: WireRevision | null; readonly buffered: number }> {
    return [...this.#streams.values()].filter((s) => !s.ended).map((s) => ({ id: s.id, from: s.position, buffered: s.buffer.length }))
  }

  buffered(id: string): number {
    return this.#streams.get(id)?.buffer.length ?? 0
  }

  isActive(id: string): boolean {
    const s = this.#streams.get(id)
    return s !== undefined && !s.ended
  }

  /** A poll answer of group `id` (answers of one group arrive in order). */
  onAnswer(id: string, answer: StreamAnswer): void {
    const s = this.#streams.get(id)
    if (s === undefined || s.ended) return
    for (const e of answer.events) {
      if (s.position !== null && compareRevisions(e.revision, s.position) <= 0) continue // a repeat
      s.buffer.push(e)
    }
    s.position = s.position === null ? answer.progress : maxRevision(s.position, answer.progress)
    if (s.buffer.length === 0) s.delivered = s.position
    if (!s.member && (answer.ended === true || s.position[0] >= s.leftAt)) s.ended = true
  }

  /** Some group is at an epoch past the map the watch routes by: fetch the newer map. */
  needsMap(): boolean {
    for (const s of this.#streams.values()) if (s.position !== null && s.position[0] > this.#mapEpoch) return true
    return false
  }

  /** The map moved on to `epoch` with `groups`. Groups new to the watch start after the old map's epoch. */
  onMap(epoch: number, groups: readonly string[]): void {
    if (epoch <= this.#mapEpoch) return
    const start: WireRevision = [this.#mapEpoch + 1, 0]
    const now = new Set(groups)
    for (const id of groups) {
      const s = this.#streams.get(id)
      if (s === undefined) this.#add(id, start)
      else {
        s.member = true
        s.ended = false
      }
    }
    for (const s of this.#streams.values()) {
      if (now.has(s.id) || !s.member) continue
      s.member = false
      s.leftAt = epoch
      if (s.position !== null && s.position[0] >= epoch) s.ended = true
    }
    this.#mapEpoch = epoch
  }

  /** The highest epoch whose events may be handed out now (-1: none yet). */
  bound(): number {
    let bound = this.#mapEpoch
    for (const s of this.#streams.values()) {
      if (s.ended) continue
      bound = Math.min(bound, s.position === null ? -1 : s.position[0])
    }
    return bound
  }

  /** The next event that may be handed out now (it leaves its buffer), or null. */
  next(): MergedEvent | null {
    const bound = this.bound()
    let pick: Stream | null = null
    for (const s of this.#streams.values()) {
      const head = s.buffer[0]
      if (head === undefined || head.revision[0] > bound) continue
      if (pick === null || head.revision[0] < pick.buffer[0]!.revision[0]) pick = s
    }
    if (pick === null) return null
    const e = pick.buffer.shift()!
    const following = pick.buffer[0]
    // A revision becomes the resume point only once handed out whole (events of one log entry share it).
    if (following === undefined) pick.delivered = pick.position
    else if (compareRevisions(following.revision, e.revision) !== 0) pick.delivered = e.revision
    return { ...e, group: pick.id }
  }

  /** Every event that may be handed out now, in order. */
  take(): MergedEvent[] {
    const out: MergedEvent[] = []
    // Bounded by the buffered events.
    for (let e = this.next(); e !== null; e = this.next()) out.push(e)
    return out
  }

  /** Every group has been heard from (a watch "from now" has a resume point only then). */
  get positioned(): boolean {
    for (const s of this.#streams.values()) if (!s.ended && s.position === null) return false
    return true
  }

  /**
   * Where a new watch would resume to hand out nothing twice and miss nothing:
   * `"<map epoch>@<group>=<revision>,..."`, every group's last revision handed out whole.
   */
  cursor(): string {
    const parts = [...this.#streams.values()].filter((s) => s.delivered !== null && !(s.ended && s.buffer.length === 0 && !s.member)).map((s) => `${s.id}=${formatRevision(s.delivered!)}`)
    return `${this.#mapEpoch}@${parts.join(',')}`
  }
}

/** A cursor from `WatchMerge.cursor`, or null when the text is not one. */
export function parseCursor(text: string): { readonly mapEpoch: number; readonly groups: ReadonlyMap<string, WireRevision> } | null {
  const m = /^(\d{1,16})@(.*)$/.exec(text)
  if (m === null) return null
  const groups = new Map<string, WireRevision>()
  if (m[2] !== '') {
    for (const part of m[2]!.split(',')) {
      const eq = part.lastIndexOf('=')
      const revision = eq > 0 ? parseRevision(part.slice(eq + 1)) : null
      if (revision === null) return null
      groups.set(part.slice(0, eq), revision)
    }
  }
  return { mapEpoch: Number(m[1]), groups }
}
