import { createRng, type Entry, type Rng } from '@kv/consensus'
import { parseClientRequest } from '@kv/protocol'
import type { ReplicaLimits } from '@kv/server'
import { SimClient, type ClientTiming } from './client.js'
import { EventQueue } from './event-queue.js'
import { HistoryRecorder } from './linearizability/index.js'
import { Nemesis, noFaults, type NemesisOptions } from './nemesis.js'
import { reliableNetwork, SimNetwork, type NetworkFaults } from './network.js'
import { SimNode, type NodeTiming } from './node.js'
import { protocols, type Protocol } from './protocols.js'
import { code, Trace } from './trace.js'
import { workload, type WorkloadOptions } from './workload.js'

export interface WorldOptions {
  seed: number
  protocol: Protocol
  replicas: number
  network: NetworkFaults
  nemesis: NemesisOptions
  timing: NodeTiming
  clientTiming: ClientTiming
  limits: Partial<ReplicaLimits>
  coreOptions: Readonly<Record<string, unknown>>
  /** Call every core's checkInvariants() after every event (slower, catches more). */
  checkInvariants: boolean
}

export const defaultWorldOptions: Omit<WorldOptions, 'seed' | 'protocol'> = {
  replicas: 3,
  network: reliableNetwork,
  nemesis: noFaults,
  timing: { tickMs: 10, electionTimeoutTicks: 10, heartbeatTicks: 2, diskMinMs: 0.2, diskMaxMs: 1 },
  clientTiming: { requestTimeoutMs: 250, opDeadlineMs: 4000, retryBackoffMs: 15, thinkMs: 2 },
  limits: { snapshotEveryEntries: 200 },
  coreOptions: {},
  checkInvariants: true,
}

export class SimulationError extends Error {
  readonly code = 'SIMULATION'
}

/**
 * One simulated group: replicas, clients, network, disks and a fault injector on one
 * virtual clock, all drawing from one seeded PRNG.
 */
export class SimWorld {
  readonly options: WorldOptions
  readonly queue = new EventQueue()
  readonly rng: Rng
  readonly net: SimNetwork
  readonly nodes: SimNode[]
  readonly clients: SimClient[] = []
  readonly history = new HistoryRecorder()
  readonly trace = new Trace()
  readonly nemesis: Nemesis
  /** What each index holds once applied anywhere: every replica must apply the same. */
  private readonly appliedAt = new Map<number, string>()
  private readonly byId = new Map<string, SimNode>()
  private readonly clientsByName = new Map<string, SimClient>()

  constructor(options: Partial<WorldOptions> & { seed: number; protocol: Protocol }) {
    this.options = { ...defaultWorldOptions, ...options }
    const o = this.options
    this.rng = createRng(o.seed)
    const ids = Array.from({ length: o.replicas }, (_, i) => `n${i + 1}`)
    this.net = new SimNetwork(this.queue, this.rng.fork(), {
      peer: (msg) => {
        const node = this.byId.get(msg.to)
        if (node?.replica == null) return
        this.trace.event(1, this.queue.now, code(msg.type), code(msg.from), code(msg.to))
        node.replica.step(msg)
        this.afterEvent(node)
      },
      request: (to, from, rid, req) => this.onRequest(to, from, rid, req),
      reply: (to, rid, resp) => {
        this.trace.event(3, this.queue.now, code(to), rid)
        this.clientsByName.get(to)?.onReply(rid, resp)
      },
    }, new Set(ids))
    this.net.faults = o.network
    const hooks = { committed: (n: SimNode, es: readonly Entry[]) => this.onCommitted(n, es), afterEvent: (n: SimNode) => this.afterEvent(n) }
    this.nodes = ids.map(
      (id) =>
        new SimNode(id, ids, protocols[o.protocol], o.coreOptions, o.limits, o.timing, this.queue, this.net, this.rng.fork(), hooks),
    )
    for (const n of this.nodes) this.byId.set(n.id, n)
    this.nemesis = new Nemesis(o.nemesis, this.nodes, this.net, this.queue, this.rng.fork(), o.network)
    for (const n of this.nodes) n.start()
  }

  get now(): number {
    return this.queue.now
  }

  node(id: string): SimNode {
    const n = this.byId.get(id)
    if (n === undefined) throw new Error(`no replica ${id}`)
    return n
  }

  /** Adds `count` clients running `load`, each talking to `servers` (all replicas by default). */
  addClients(count: number, load: WorkloadOptions, servers: readonly string[] = this.nodes.map((n) => n.id)): SimClient[] {
    const added: SimClient[] = []
    for (let i = 0; i < count; i++) {
      const no = this.clients.length + 1
      const c = new SimClient(`c${no}`, no, servers, workload(load, no), this.options.clientTiming, this.queue, this.net, this.rng.fork(), this.history)
      this.clients.push(c)
      this.clientsByName.set(c.name, c)
      added.push(c)
      c.start()
    }
    return added
  }

  private onRequest(to: string, from: string, rid: number, raw: unknown): void {
    const node = this.byId.get(to)
    if (node?.replica == null) return
    this.trace.event(2, this.queue.now, code(to), code(from), rid)
    const parsed = parseClientRequest(raw)
    if (!parsed.ok) {
      this.net.sendReply(to, from, rid, { type: 'error', code: 'BAD_REQUEST', message: parsed.reason })
      return
    }
    node.replica.request(parsed.request, (resp) => this.net.sendReply(to, from, rid, resp))
    this.afterEvent(node)
  }

  private afterEvent(node: SimNode): void {
    const replica = node.replica
    if (replica === null) return
    replica.flush()
    if (this.options.checkInvariants) replica.core.checkInvariants()
  }

  private onCommitted(node: SimNode, entries: readonly Entry[]): void {
    for (const e of entries) {
      const sig = e.type === 'noop' ? 'noop' : `d${hashBytes(e.data)}`
      const seen = this.appliedAt.get(e.index)
      if (seen === undefined) this.appliedAt.set(e.index, sig)
      else if (seen !== sig) {
        throw new SimulationError(`state machine safety: ${node.id} applies ${sig} at index ${e.index}, another replica applied ${seen}`)
      }
      this.trace.event(4, code(node.id), e.index)
    }
  }

  runFor(ms: number): void {
    this.runUntil(() => false, ms)
  }

  /** Runs events until `done()` holds or `maxMs` of virtual time passed; returns whether it held. */
  runUntil(done: () => boolean, maxMs: number): boolean {
    const until = this.queue.now + maxMs
    while (!done()) {
      if (!this.queue.runNext(until)) {
        this.queue.now = Math.max(this.queue.now, until)
        return done()
      }
    }
    return true
  }

  /** The replica that leads at the highest term, if any is alive and leading. */
  leader(): SimNode | null {
    let best: SimNode | null = null
    let bestTerm = -1
    for (const n of this.nodes) {
      const s = n.replica?.core.status()
      if (s?.role === 'leader' && s.term > bestTerm) {
        best = n
        bestTerm = s.term
      }
    }
    return best
  }

  /** Stop injecting faults, heal everything, restart the dead, and let clients finish. */
  quiesce(maxMs = 30_000): boolean {
    this.nemesis.stop()
    this.net.heal()
    this.net.faults = reliableNetwork
    for (const n of this.nodes) if (!n.alive) n.start()
    for (const c of this.clients) c.stop()
    return this.runUntil(() => this.clients.every((c) => c.idle), maxMs)
  }

  /** After quiescing: every replica applies the same index and holds the same data. */
  converge(maxMs = 10_000): boolean {
    return this.runUntil(() => {
      const live = this.nodes.filter((n) => n.replica !== null).map((n) => n.replica!)
      const applied = live.map((r) => r.stateMachine.appliedIndex)
      const commit = Math.max(...live.map((r) => r.core.status().commitIndex))
      if (applied.some((a) => a !== commit)) return false
      const digests = new Set(live.map((r) => r.stateMachine.digest()))
      return digests.size === 1
    }, maxMs)
  }
}

function hashBytes(b: Uint8Array): string {
  let h = 0x811c9dc5
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193) >>> 0
  return `${h.toString(16)}.${b.length}`
}
