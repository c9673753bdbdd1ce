import { arcContains, changedArcs, hashKey, HashRing, type ArcRange } from '@kv/hashring'
import type { GroupSpec, ShardMap } from '@kv/protocol'
import { unreachable } from '@kv/consensus'
import type { MigrationStep } from '../log-record.js'

/**
 * Arcs this group gains at the current epoch from `from`.
 *  waiting   → the map is applied; nobody has asked for the data yet
 *  pulling   → SEND_KEYS_REQUEST logged: the leader pulls chunks from `from`, `cursor` is the next
 *  installed → every chunk and the sessions are in
 *  ready     → SHARD_READY logged: the arcs serve; the leader tells `from` (KEYS_LEARNED)
 */
export interface IncomingMove {
  readonly from: string
  readonly arcs: readonly ArcRange[]
  state: 'waiting' | 'pulling' | 'installed' | 'ready'
  cursor: number
}

/**
 * Arcs this group loses at the current epoch to `to`: frozen (no reads or writes) from the
 * moment the map applies, served to `to` once SEND_KEYS_RESPONSE is logged, deleted at
 * KEYS_LEARNED.
 */
export interface OutgoingMove {
  readonly to: string
  readonly arcs: readonly ArcRange[]
  state: 'frozen' | 'sending'
}

/** What the shard state looks like in snapshots and the state store. */
export interface ShardImage {
  readonly epoch: number
  readonly map: ShardMap | null
  readonly previous: ShardMap | null
  readonly incoming: readonly IncomingMove[]
  readonly outgoing: readonly OutgoingMove[]
}

/** What a migration step did, for the one structured log line each step gets. */
export interface MigrationEvent {
  readonly step: MigrationStep['type'] | 'keys-deleted'
  readonly epoch: number
  /** The group giving the arcs up and the one taking them. */
  readonly from: string | null
  readonly to: string | null
  readonly group: string
  readonly keys?: number
}

/** What applying a step asks of the KV data (the machine owns the data; this owns the arcs). */
export interface ShardDataHooks {
  put(key: string, value: Uint8Array): void
  /** Deletes every key in `arcs`; returns how many went. */
  deleteIn(arcs: readonly ArcRange[]): number
  mergeSessions(sessions: Extract<MigrationStep, { type: 'install' }>['sessions']): void
}

/**
 * Which arcs of the ring this group serves, at which epoch, and the migrations under way
 * (DESIGN.md "Shard migration"). Maps apply in epoch order, one at a time: the next map
 * applies only when every move of the current one has finished, so a move is always named by
 * (epoch, other group). Deterministic: every replica that applies the same steps agrees.
 */
export class ShardState {
  epoch = 0
  map: ShardMap | null = null
  /** The map this one replaced (a group that just left is found there). */
  previous: ShardMap | null = null
  incoming: IncomingMove[] = []
  outgoing: OutgoingMove[] = []
  private ring: HashRing | null = null

  constructor(readonly groupId: string) {}

  /** A map in force from the start (a cluster without a controller): nothing to migrate. */
  static fixed(groupId: string, map: ShardMap): ShardState {
    const s = new ShardState(groupId)
    s.setMap(map)
    return s
  }

  /** Every move of the current epoch has finished: the next map may apply. */
  get settled(): boolean {
    return this.incoming.length === 0 && this.outgoing.length === 0
  }

  /** Does this group serve `key` now (owns it at this epoch, and its data is here)? */
  serves(key: string): boolean {
    const ring = this.ring
    if (ring === null) return false
    const hash = hashKey(key)
    if (ring.ownerOfHash(hash) !== this.groupId) return false
    for (const m of this.incoming) {
      if (m.state !== 'ready' && m.arcs.some((a) => arcContains(a, hash))) return false
    }
    return true
  }

  /** The spec of group `id` in the current map (or, for a group that just left, the one before). */
  groupSpec(id: string): GroupSpec | null {
    return this.map?.groups.find((g) => g.id === id) ?? this.previous?.groups.find((g) => g.id === id) ?? null
  }

  /**
   * Applies one migration step. Steps that do not fit the current state (a repeat, a step of
   * another epoch, a map that is not the next) change nothing: every step is idempotent.
   * Returns what happened, or null for a no-op.
   */
  apply(step: MigrationStep, data: ShardDataHooks): MigrationEvent | null {
    const me = this.groupId
    switch (step.type) {
      case 'config': {
        if (step.map.epoch !== this.epoch + 1 || !this.settled) return null
        const before = this.ring
        this.previous = this.map
        this.setMap(step.map)
        if (before !== null) {
          for (const move of changedArcs(before, this.ring!)) {
            if (move.from === me) addArc(this.outgoing, 'to', move.to, move, () => ({ to: move.to, arcs: [], state: 'frozen' as const }))
            else if (move.to === me) addArc(this.incoming, 'from', move.from, move, () => ({ from: move.from, arcs: [], state: 'waiting' as const, cursor: 0 }))
          }
        }
        return { step: step.type, epoch: this.epoch, from: null, to: null, group: me }
      }
      case 'send-keys-request':
      case 'install':
      case 'shard-ready':
      case 'learned-acked': {
        if (step.epoch !== this.epoch) return null
        const move = this.incoming.find((m) => m.from === step.from)
        if (move === undefined) return null
        const event = { step: step.type, epoch: step.epoch, from: step.from, to: me, group: me }
        if (step.type === 'send-keys-request') {
          if (move.state !== 'waiting') return null
          move.state = 'pulling'
          return event
        }
        if (step.type === 'install') {
          if (move.state !== 'pulling' || step.cursor !== move.cursor) return null
          for (const [k, v] of step.entries) data.put(k, v)
          // Sessions come after the keys, in chunks of their own (the first release sent them all
          // in the last chunk): merged as they come.
          if (step.sessions.length > 0) data.mergeSessions(step.sessions)
          move.cursor = step.next
          if (step.done) move.state = 'installed'
          return { ...event, keys: step.entries.length }
        }
        if (step.type === 'shard-ready') {
          if (move.state !== 'installed') return null
          move.state = 'ready'
          return event
        }
        if (move.state !== 'ready') return null
        this.incoming = this.incoming.filter((m) => m !== move)
        return event
      }
      case 'send-keys-response':
      case 'keys-learned': {
        if (step.epoch !== this.epoch) return null
        const move = this.outgoing.find((m) => m.to === step.to)
        if (move === undefined) return null
        const event = { step: step.type, epoch: step.epoch, from: me, to: step.to, group: me }
        if (step.type === 'send-keys-response') {
          if (move.state !== 'frozen') return null
          move.state = 'sending'
          return event
        }
        const deleted = data.deleteIn(move.arcs)
        this.outgoing = this.outgoing.filter((m) => m !== move)
        return { ...event, keys: deleted }
      }
      default:
        return unreachable(step, 'migration step')
    }
  }

  /** `arcs` of the outgoing move to `to` contain `key`. */
  static inArcs(arcs: readonly ArcRange[], key: string): boolean {
    const hash = hashKey(key)
    return arcs.some((a) => arcContains(a, hash))
  }

  image(): ShardImage {
    return { epoch: this.epoch, map: this.map, previous: this.previous, incoming: this.incoming.map((m) => ({ ...m })), outgoing: this.outgoing.map((m) => ({ ...m })) }
  }

  load(image: ShardImage): void {
    this.epoch = image.epoch
    this.map = image.map
    this.previous = image.previous
    this.ring = image.map === null ? null : ringOf(image.map)
    this.incoming = image.incoming.map((m) => ({ ...m }))
    this.outgoing = image.outgoing.map((m) => ({ ...m }))
  }

  private setMap(map: ShardMap): void {
    this.epoch = map.epoch
    this.map = map
    this.ring = ringOf(map)
  }
}

export function ringOf(map: ShardMap): HashRing {
  return new HashRing({ groups: map.groups.map((g) => g.id), vnodesPerGroup: map.vnodesPerGroup })
}

function addArc<K extends 'to' | 'from', M extends { readonly arcs: readonly ArcRange[] } & Record<K, string>>(
  moves: M[],
  key: K,
  peer: string,
  arc: ArcRange,
  create: () => M,
): void {
  let move = moves.find((m) => m[key] === peer)
  if (move === undefined) {
    move = create()
    moves.push(move)
  }
  ;(move.arcs as ArcRange[]).push({ start: arc.start, end: arc.end })
}
