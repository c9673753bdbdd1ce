import type { NodeId, PeerMessage } from '../types.js'
import type { Rng } from '../random.js'

export interface NetworkOptions {
  /** Chance that a message is lost. */
  readonly dropRate: number
  /** Chance that a message is delivered twice (each copy with its own delay). */
  readonly duplicateRate: number
  /** Every message spends at least this many ticks in flight (at least 1). */
  readonly minDelayTicks: number
  /** ...and at most this many. Different delays reorder messages. */
  readonly maxDelayTicks: number
}

export const RELIABLE_NETWORK: NetworkOptions = { dropRate: 0, duplicateRate: 0, minDelayTicks: 1, maxDelayTicks: 1 }

interface InFlight {
  readonly message: PeerMessage
  readonly deliverAt: number
  /** Random tie-break among messages due at the same tick: reordering within a tick. */
  readonly order: number
}

/**
 * A simulated network between the members of one group. Everything random is drawn from the
 * one `Rng` it is given, so a run replays exactly from its seed. Messages are copied when sent
 * (structured clone, as a wire would), so no core ever shares an object with another.
 */
export class SimNetwork {
  private inFlight: InFlight[] = []
  private options: NetworkOptions
  /** Partition group of each node; null when fully connected. */
  private groupOf: Map<NodeId, number> | null = null
  private delivered = 0
  private dropped = 0

  constructor(private readonly rng: Rng, options: NetworkOptions = RELIABLE_NETWORK) {
    this.options = checkOptions(options)
  }

  configure(options: Partial<NetworkOptions>): void {
    this.options = checkOptions({ ...this.options, ...options })
  }

  get settings(): NetworkOptions {
    return this.options
  }

  /** Split the group: nodes talk only within their own set. A node in no set is alone. */
  partition(groups: readonly Iterable<NodeId>[]): void {
    const groupOf = new Map<NodeId, number>()
    groups.forEach((group, g) => {
      for (const id of group) {
        if (groupOf.has(id)) throw new Error(`partition: ${id} is in two groups`)
        groupOf.set(id, g)
      }
    })
    this.groupOf = groupOf
  }

  heal(): void {
    this.groupOf = null
  }

  get partitioned(): boolean {
    return this.groupOf !== null
  }

  connected(a: NodeId, b: NodeId): boolean {
    if (this.groupOf === null || a === b) return true
    const ga = this.groupOf.get(a), gb = this.groupOf.get(b)
    return ga !== undefined && ga === gb
  }

  send(message: PeerMessage, now: number): void {
    if (!this.connected(message.from, message.to) || this.rng.chance(this.options.dropRate)) {
      this.dropped++
      return
    }
    this.enqueue(message, now)
    if (this.rng.chance(this.options.duplicateRate)) this.enqueue(message, now)
  }

  /**
   * Messages due by `now`, in delivery order. A message whose endpoints were partitioned
   * apart while it was in flight is lost.
   */
  takeDue(now: number): PeerMessage[] {
    const due: InFlight[] = []
    const later: InFlight[] = []
    for (const m of this.inFlight) (m.deliverAt <= now ? due : later).push(m)
    this.inFlight = later
    due.sort((a, b) => a.deliverAt - b.deliverAt || a.order - b.order)
    const out: PeerMessage[] = []
    for (const m of due) {
      if (this.connected(m.message.from, m.message.to)) out.push(m.message)
      else this.dropped++
    }
    this.delivered += out.length
    return out
  }

  stats(): { inFlight: number; delivered: number; dropped: number } {
    return { inFlight: this.inFlight.length, delivered: this.delivered, dropped: this.dropped }
  }

  private enqueue(message: PeerMessage, now: number): void {
    const { minDelayTicks, maxDelayTicks } = this.options
    const delay = minDelayTicks + this.rng.int(maxDelayTicks - minDelayTicks + 1)
    this.inFlight.push({ message: structuredClone(message), deliverAt: now + delay, order: this.rng.next() })
  }
}

function checkOptions(o: NetworkOptions): NetworkOptions {
  const rate = (p: number): boolean => p >= 0 && p <= 1
  if (!rate(o.dropRate) || !rate(o.duplicateRate)) throw new Error(`network: rates must be in [0, 1]`)
  if (!Number.isInteger(o.minDelayTicks) || o.minDelayTicks < 1 || o.maxDelayTicks < o.minDelayTicks) {
    throw new Error(`network: need 1 <= minDelayTicks <= maxDelayTicks (integers)`)
  }
  return o
}
