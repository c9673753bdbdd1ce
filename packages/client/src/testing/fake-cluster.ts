import { clusterTopology, compareRevisions, isDiscoverRequest, parseClientRequest, type ClientRequest, type ClientResponse, type OpResult, type ScanOp, type WatchEvent, type WatchOp, type WriteOp } from '@kv/protocol'
import { TransportServer, type ListenTls, type Reply } from '@kv/transport-tcp'
import { parseClusterConfig, type ClusterConfig } from '../config.js'

/*
 * A fake cluster for the client's tests: real TCP servers (one per replica) around one
 * shared in-memory KV with exactly-once sessions, as a replicated state machine would look
 * from outside. Leadership moves at will, replies can be dropped or held, servers stopped.
 */

export const CLUSTER_ID = 'test-cluster'
export const TOKEN = 'test-token'

interface Session {
  ackedSeq: number
  readonly results: Map<number, OpResult>
}

/** A request as the fake saw it. */
export interface Seen {
  readonly replica: string
  readonly connId: number
  readonly request: ClientRequest
}

/** What to do with the answer to one request: send it, drop it, or hand it to the test. */
export type ReplyPolicy = (seen: Seen) => 'send' | 'drop' | 'hold'

export interface Held {
  readonly seen: Seen
  readonly response: ClientResponse
  readonly reply: Reply
}

export class FakeCluster {
  readonly data = new Map<string, Uint8Array>()
  readonly sessions = new Map<string, Session>()
  readonly seen: Seen[] = []
  readonly held: Held[] = []
  /** Writes actually applied, as `clientId/seq`. */
  readonly applied: string[] = []
  leader: string | null
  /** Followers name the leader in NOT_LEADER. */
  giveHints = true
  /** Replicas that swallow every request (they accept connections but never answer). */
  readonly silent = new Set<string>()
  policy: ReplyPolicy = () => 'send'
  /** The replicas asked for the topology (`discover`), in order. */
  readonly discoveries: string[] = []
  /** Replicas that answer `discover` as a release without discovery would: BAD_REQUEST. */
  readonly withoutDiscovery = new Set<string>()
  /** The servers listen with TLS (and want client certificates): what `discover` answers. */
  private tls = { on: false, requireClientCert: false }
  /** Every change, one log index each (epoch 0), for watches; `horizon`: events at or below it are compacted. */
  readonly history: WatchEvent[] = []
  horizon = 0
  private index = 0
  private heldWatches: Array<{ replica: string; op: WatchOp; send: (r: ClientResponse) => void; timer: NodeJS.Timeout }> = []

  private constructor(readonly servers: Map<string, TransportServer>) {
    this.leader = [...servers.keys()][0] ?? null
  }

  /** `tls`: the replicas listen with TLS. */
  static async start(replicaCount: number, tls?: ListenTls): Promise<FakeCluster> {
    const servers = new Map<string, TransportServer>()
    const cluster = new FakeCluster(servers)
    for (let i = 1; i <= replicaCount; i++) {
      const id = `r${i}`
      const server = await TransportServer.listen({
        host: '127.0.0.1',
        port: 0,
        clusterId: CLUSTER_ID,
        token: TOKEN,
        nodeId: id,
        onPeerMessage: () => {},
        onClientRequest: (msg, reply, conn) => cluster.onRequest(id, msg, reply, conn.connId),
        ...(tls === undefined ? {} : { tls }),
      })
      servers.set(id, server)
    }
    cluster.leader = 'r1'
    cluster.tls = { on: tls !== undefined, requireClientCert: tls?.requireClientCert === true }
    return cluster
  }

  config(): ClusterConfig {
    const replicas = [...this.servers].map(([id, s]) => ({ id, host: '127.0.0.1', port: s.port }))
    return parseClusterConfig({ clusterId: CLUSTER_ID, token: TOKEN, groups: [{ id: 'g1', protocol: 'raft', replicas }] })
  }

  endpoint(id: string): string {
    return `127.0.0.1:${this.servers.get(id)!.port}`
  }

  endpoints(): string[] {
    return [...this.servers.keys()].map((id) => this.endpoint(id))
  }

  /** Stops one replica's server (its connections close). */
  async stop(id: string): Promise<void> {
    await this.servers.get(id)!.close()
  }

  async close(): Promise<void> {
    this.dropHeldWatches()
    for (const h of this.held.splice(0)) h.reply(h.response)
    await Promise.all([...this.servers.values()].map((s) => s.close()))
  }

  connectionCount(): number {
    let n = 0
    for (const s of this.servers.values()) n += s.connectionCount
    return n
  }

  /** Sends the held answers to the writes `seqs`, in that order; the others stay held. */
  releaseSeqs(seqs: readonly number[]): void {
    for (const seq of seqs) {
      const i = this.held.findIndex((h) => h.seen.request.seq === seq)
      if (i < 0) throw new Error(`no held answer for seq ${seq}`)
      const [h] = this.held.splice(i, 1)
      h!.reply(h!.response)
    }
  }

  /** Sends every held answer, the last held first. */
  releaseAllReversed(): void {
    for (const h of this.held.splice(0).reverse()) h.reply(h.response)
  }

  writesSeen(): ClientRequest[] {
    return this.seen.map((s) => s.request).filter((r) => r.op.op !== 'get')
  }

  private onRequest(replica: string, msg: unknown, reply: Reply, connId: number): void {
    if (isDiscoverRequest(msg)) {
      this.discoveries.push(replica)
      if (this.silent.has(replica)) return
      if (this.withoutDiscovery.has(replica)) return reply({ type: 'error', code: 'BAD_REQUEST', message: 'unknown request type "discover"' })
      return reply({ ...clusterTopology(this.config()), tls: this.tls.on, requireClientCert: this.tls.requireClientCert })
    }
    const parsed = parseClientRequest(msg)
    if (!parsed.ok) return reply({ type: 'error', code: 'BAD_REQUEST', message: parsed.reason })
    const request = parsed.request
    if (request.type === 'status') {
      return reply({ type: 'status', replicaId: replica, role: replica === this.leader ? 'leader' : 'follower', term: 1, leader: this.leader, commitIndex: 0, appliedIndex: 0, lastIndex: 0 })
    }
    if (request.type === 'member') return reply({ type: 'error', code: 'BAD_REQUEST', message: 'the fake cluster has no membership' })
    const seen: Seen = { replica, connId, request }
    this.seen.push(seen)
    if (this.silent.has(replica)) return
    const respond = (response: ClientResponse) => {
      const what = response.type === 'error' && response.code === 'NOT_LEADER' ? 'send' : this.policy(seen)
      if (what === 'send') reply(response)
      else if (what === 'hold') this.held.push({ seen, response, reply })
    }
    if (request.op.op === 'watch' && replica === this.leader) return this.watch(replica, request.op, respond)
    respond(this.answer(replica, request))
  }

  /** A long poll: answered at once when there are events after its revision, else on the next write or after waitMs. */
  private watch(replica: string, op: WatchOp, send: (r: ClientResponse) => void): void {
    const now = this.watchAnswer(op)
    if (now !== null || op.waitMs === 0) return send(now ?? this.progressOnly())
    const timer = setTimeout(() => {
      this.heldWatches = this.heldWatches.filter((h) => h.timer !== timer)
      send(this.progressOnly())
    }, op.waitMs)
    this.heldWatches.push({ replica, op, send, timer })
  }

  private progressOnly(): ClientResponse {
    return { type: 'result', result: { type: 'events', events: [], progress: [0, this.index], more: false } }
  }

  private watchAnswer(op: WatchOp): ClientResponse | null {
    if (op.fromRevision === null) return this.progressOnly()
    if (op.fromRevision[1] < this.horizon) return { type: 'error', code: 'COMPACTED', message: 'compacted', oldest: [0, this.horizon] }
    const match = (e: WatchEvent) => (op.key !== undefined ? e.key === op.key : e.key.startsWith(op.prefix ?? ''))
    const events = this.history.filter((e) => compareRevisions(e.revision, op.fromRevision!) > 0 && match(e)).slice(0, op.maxEvents)
    if (events.length === 0) return null
    const more = events.length === op.maxEvents
    return { type: 'result', result: { type: 'events', events, progress: more ? events[events.length - 1]!.revision : [0, this.index], more } }
  }

  /** The leader changed: its held polls are answered NOT_LEADER, as a replica that stops leading does. */
  moveLeader(to: string): void {
    this.leader = to
    const held = this.heldWatches
    this.heldWatches = []
    for (const h of held) {
      clearTimeout(h.timer)
      h.send({ type: 'error', code: 'NOT_LEADER', message: 'not the leader any more', leader: to })
    }
  }

  private wakeWatches(): void {
    const held = this.heldWatches
    this.heldWatches = []
    for (const h of held) {
      const answer = this.watchAnswer(h.op)
      if (answer === null) this.heldWatches.push(h)
      else {
        clearTimeout(h.timer)
        h.send(answer)
      }
    }
  }

  private scan(op: ScanOp): ClientResponse {
    const keys = [...this.data.keys()].filter((k) => k >= op.start && (op.end === null || k < op.end)).sort()
    if (op.reverse === true) keys.reverse()
    const page = keys.slice(0, op.limit)
    return { type: 'result', result: { type: 'scan', entries: page.map((k) => [k, this.data.get(k)!] as const), more: keys.length > op.limit } }
  }

  /** Stops answering held polls (closing the cluster). */
  dropHeldWatches(): void {
    for (const h of this.heldWatches) clearTimeout(h.timer)
    this.heldWatches = []
  }

  private answer(replica: string, req: ClientRequest): ClientResponse {
    const stale = req.op.op === 'get' && req.op.stale === true
    if (replica !== this.leader && !stale) {
      return { type: 'error', code: 'NOT_LEADER', message: 'not the leader', leader: this.giveHints ? this.leader : null }
    }
    if (req.op.op === 'get') {
      const value = this.data.get(req.op.key) ?? null
      return { type: 'result', result: req.op.withRevision === true ? { type: 'value', value, revision: [0, this.index] } : { type: 'value', value } }
    }
    if (req.op.op === 'scan') return this.scan(req.op)
    if (req.op.op === 'watch') return this.watchAnswer(req.op) ?? this.progressOnly()
    return this.applyWrite(req, req.op)
  }

  /** The same rules as the replicas' state machine (packages/server/src/session.ts). */
  private applyWrite(req: ClientRequest, op: WriteOp): ClientResponse {
    let session = this.sessions.get(req.clientId)
    if (session === undefined) {
      if (req.ackedSeq > 0) return { type: 'error', code: 'SESSION_EXPIRED', message: `session ${req.clientId} expired` }
      session = { ackedSeq: 0, results: new Map() }
      this.sessions.set(req.clientId, session)
    }
    if (req.ackedSeq > session.ackedSeq) {
      for (const seq of session.results.keys()) if (seq <= req.ackedSeq) session.results.delete(seq)
      session.ackedSeq = req.ackedSeq
    }
    const known = session.results.get(req.seq)
    if (known !== undefined) return { type: 'result', result: known }
    if (req.seq <= session.ackedSeq) return { type: 'error', code: 'BAD_REQUEST', message: `seq ${req.seq} was already acknowledged` }
    const result = this.applyOp(op)
    session.results.set(req.seq, result)
    this.applied.push(`${req.clientId}/${req.seq}`)
    this.record(op, result)
    return { type: 'result', result }
  }

  private record(op: WriteOp, result: OpResult): void {
    const revision = [0, ++this.index] as const
    if (op.op === 'batchPut') for (const [key, value] of op.entries) this.history.push({ type: 'put', key, value, revision })
    else if (op.op === 'delete') {
      if (result.type === 'deleted' && result.existed) this.history.push({ type: 'delete', key: op.key, revision })
    } else this.history.push({ type: op.op, key: op.key, value: op.value, revision })
    this.wakeWatches()
  }

  private applyOp(op: WriteOp): OpResult {
    switch (op.op) {
      case 'put':
        this.data.set(op.key, op.value)
        return { type: 'ok' }
      case 'append': {
        const old = this.data.get(op.key) ?? new Uint8Array()
        const both = new Uint8Array(old.length + op.value.length)
        both.set(old, 0)
        both.set(op.value, old.length)
        this.data.set(op.key, both)
        return { type: 'ok' }
      }
      case 'delete':
        return { type: 'deleted', existed: this.data.delete(op.key) }
      case 'batchPut':
        for (const [k, v] of op.entries) this.data.set(k, v)
        return { type: 'ok' }
      default: {
        const never: never = op
        throw new Error(`unknown op ${JSON.stringify(never)}`)
      }
    }
  }
}
