import { parseClientRequest, type ClientRequest, type ClientResponse, type OpResult, type WriteOp } from '@kv/protocol'
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
    const parsed = parseClientRequest(msg)
    if (!parsed.ok) return reply({ type: 'error', code: 'BAD_REQUEST', message: parsed.reason })
    const request = parsed.request
    if (request.type === 'status') {
      return reply({ type: 'status', replicaId: replica, role: replica === this.leader ? 'leader' : 'follower', term: 1, leader: this.leader, commitIndex: 0, appliedIndex: 0, lastIndex: 0 })
    }
    const seen: Seen = { replica, connId, request }
    this.seen.push(seen)
    if (this.silent.has(replica)) return
    const response = this.answer(replica, request)
    const what = response.type === 'error' && response.code === 'NOT_LEADER' ? 'send' : this.policy(seen)
    if (what === 'send') reply(response)
    else if (what === 'hold') this.held.push({ seen, response, reply })
  }

  private answer(replica: string, req: ClientRequest): ClientResponse {
    const stale = req.op.op === 'get' && req.op.stale === true
    if (replica !== this.leader && !stale) {
      return { type: 'error', code: 'NOT_LEADER', message: 'not the leader', leader: this.giveHints ? this.leader : null }
    }
    if (req.op.op === 'get') return { type: 'result', result: { type: 'value', value: this.data.get(req.op.key) ?? null } }
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
    return { type: 'result', result }
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
