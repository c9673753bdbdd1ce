import type { PeerMessage } from '@kv/consensus'
import type { Rng } from '@kv/consensus'
import type { AnyClientRequest, ClientResponse, ReplicaStatus } from '@kv/protocol'
import type { EventQueue } from './event-queue.js'

/** How the simulated network misbehaves. Delays are in virtual milliseconds. */
export interface NetworkFaults {
  dropRate: number
  duplicateRate: number
  minDelayMs: number
  maxDelayMs: number
  /** Chance that a message takes a long detour (reordering it past many others). */
  longDelayRate: number
  longDelayMaxMs: number
}

export const reliableNetwork: NetworkFaults = {
  dropRate: 0, duplicateRate: 0, minDelayMs: 0.1, maxDelayMs: 1, longDelayRate: 0, longDelayMaxMs: 0,
}

/** kvraft's unreliable network: a tenth of messages lost, short random delays, some long reorderings. */
export const unreliableNetwork: NetworkFaults = {
  dropRate: 0.1, duplicateRate: 0.05, minDelayMs: 0.1, maxDelayMs: 27, longDelayRate: 0.05, longDelayMaxMs: 300,
}

export interface NetworkHandlers {
  peer(msg: PeerMessage): void
  request(to: string, from: string, rid: number, req: AnyClientRequest): void
  reply(to: string, from: string, rid: number, resp: ClientResponse | ReplicaStatus): void
}

/**
 * A network of endpoints (replica ids and client names). Partitions split the endpoints into
 * sides; a message between two sides is lost. An endpoint named on no side (a client, or a
 * replica of a group the partition is not about) reaches every endpoint.
 *
 * Beside the sides, single directed links can be cut (an asymmetric partition: a node that
 * can send but not hear, as a firewall rule on one direction does) or slowed (a congested
 * link: every message on it takes `extraMs` more).
 */
export class SimNetwork {
  faults: NetworkFaults = reliableNetwork
  private side = new Map<string, number>()
  /** Directed links cut: `from>to`. */
  private readonly cut = new Set<string>()
  /** Directed links slowed: `from>to` → extra delay in ms. */
  private readonly slow = new Map<string, number>()
  delivered = 0
  dropped = 0
  /** Bumped by every `partition` and `heal`: whoever made a partition can tell whether it still stands. */
  generation = 0

  constructor(
    private readonly queue: EventQueue,
    private readonly rng: Rng,
    private readonly handlers: NetworkHandlers,
  ) {}

  /** Each array is one side (replica ids and client names). */
  partition(sides: readonly (readonly string[])[]): void {
    this.generation++
    this.side = new Map()
    sides.forEach((ids, i) => ids.forEach((id) => this.side.set(id, i)))
  }

  /** Heals every partition, cut link and slow link. */
  heal(): void {
    this.generation++
    this.side = new Map()
    this.cut.clear()
    this.slow.clear()
  }

  get partitioned(): boolean {
    return this.side.size > 0 || this.cut.size > 0
  }

  /** Ends the partition into sides (cut and slow links stay). */
  healSides(): void {
    this.generation++
    this.side = new Map()
  }

  /** Messages from `from` to `to` are lost until `restoreLink` (or `heal`). */
  cutLink(from: string, to: string): void {
    this.cut.add(`${from}>${to}`)
  }

  restoreLink(from: string, to: string): void {
    this.cut.delete(`${from}>${to}`)
  }

  /** Messages from `from` to `to` take `extraMs` longer until `restoreLink`-ed by `slowLink(from, to, 0)` (or `heal`). */
  slowLink(from: string, to: string, extraMs: number): void {
    if (extraMs <= 0) this.slow.delete(`${from}>${to}`)
    else this.slow.set(`${from}>${to}`, extraMs)
  }

  canReach(a: string, b: string): boolean {
    if (this.cut.size > 0 && this.cut.has(`${a}>${b}`)) return false
    if (this.side.size === 0) return true
    const sa = this.side.get(a), sb = this.side.get(b)
    return sa === undefined || sb === undefined || sa === sb
  }

  sendPeer(msg: PeerMessage): void {
    this.transmit(msg.from, msg.to, () => this.handlers.peer(msg))
  }

  sendRequest(from: string, to: string, rid: number, req: AnyClientRequest): void {
    this.transmit(from, to, () => this.handlers.request(to, from, rid, req))
  }

  sendReply(from: string, to: string, rid: number, resp: ClientResponse | ReplicaStatus): void {
    this.transmit(from, to, () => this.handlers.reply(to, from, rid, resp))
  }

  private transmit(from: string, to: string, deliver: () => void): void {
    const f = this.faults
    if (!this.canReach(from, to)) return void this.dropped++
    if (f.dropRate > 0 && this.rng.chance(f.dropRate)) return void this.dropped++
    const copies = f.duplicateRate > 0 && this.rng.chance(f.duplicateRate) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      let delay = f.minDelayMs + this.rng.next() * (f.maxDelayMs - f.minDelayMs)
      if (f.longDelayRate > 0 && this.rng.chance(f.longDelayRate)) delay += this.rng.next() * f.longDelayMaxMs
      if (this.slow.size > 0) delay += this.slow.get(`${from}>${to}`) ?? 0
      this.queue.after(delay, () => {
        // A partition made while the message was in flight cuts it too.
        if (!this.canReach(from, to)) return void this.dropped++
        this.delivered++
        deliver()
      })
    }
  }
}
