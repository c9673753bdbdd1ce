import type { Rng } from '@kv/consensus'
import { backoffMs, CallRound, ReplicaGroup, type ClientRequest, type ClientResponse, type KvOp, type ReplicaStatus } from '@kv/protocol'
import type { EventQueue } from './event-queue.js'
import type { HistoryRecorder, KvInput, KvOutput } from './linearizability/index.js'
import type { SimNetwork } from './network.js'

export interface ClientTiming {
  /** Wait this long for an answer before trying the next replica with the same request. */
  requestTimeoutMs: number
  /** Give up on an operation after this long; its outcome is then unknown. */
  opDeadlineMs: number
  /** Pause after a round of the group's replicas failed: from this, doubling (with jitter)... */
  retryBackoffMs: number
  /** ...up to this. */
  retryBackoffMaxMs: number
  /** Pause between one operation's answer and the next call. */
  thinkMs: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

interface InFlight {
  readonly opId: number
  readonly input: KvInput
  readonly req: ClientRequest
  readonly startedAt: number
  rid: number
  round: CallRound<string>
  rounds: number
}

/**
 * A simulated client that decides like the real one (`@kv/protocol`'s CallRound and backoff):
 * a request never answered is resent to the next replica under the same session seq, so it
 * applies at most once; NOT_LEADER hints are followed; a failed round backs off. One
 * operation at a time, like a kvraft clerk.
 */
export class SimClient {
  private seq = 0
  private ackedSeq = 0
  private readonly group: ReplicaGroup<string>
  private rid = 0
  private current: InFlight | null = null
  private stopped = false
  completed = 0
  gaveUp = 0
  unexpected: string[] = []

  constructor(
    readonly name: string,
    readonly clientNo: number,
    private readonly servers: readonly string[],
    private readonly next: (rng: Rng) => KvInput | null,
    private readonly timing: ClientTiming,
    private readonly queue: EventQueue,
    private readonly net: SimNetwork,
    private readonly rng: Rng,
    private readonly history: HistoryRecorder,
  ) {
    this.group = new ReplicaGroup('sim', servers.map((id) => ({ address: id, id })), (id) => id)
    // Start somewhere random, as a real client's first pick depends on which replica it reaches.
    const start = rng.int(servers.length)
    for (let i = 0; i < start; i++) this.group.doubt(servers[i]!)
  }

  get idle(): boolean {
    return this.current === null
  }

  start(): void {
    this.queue.after(this.rng.next() * this.timing.thinkMs, () => this.startNext())
  }

  /** Finish the operation in flight, then make no new call. */
  stop(): void {
    this.stopped = true
  }

  private startNext(): void {
    if (this.stopped || this.current !== null) return
    const input = this.next(this.rng)
    if (input === null) return
    const op = toOp(input)
    const isWrite = op.op !== 'get'
    const seq = isWrite ? ++this.seq : 0
    const req: ClientRequest = { type: 'kv', clientId: this.name, seq, ackedSeq: this.ackedSeq, op }
    const opId = this.history.invoke(this.clientNo, input, this.queue.now)
    this.current = { opId, input, req, startedAt: this.queue.now, rid: 0, round: new CallRound(this.group), rounds: 0 }
    this.attempt()
  }

  private attempt(): void {
    const op = this.current
    if (op === null) return
    if (this.queue.now - op.startedAt > this.timing.opDeadlineMs) return this.giveUp(op)
    const to = op.round.next()
    if (to === null) {
      // Every replica failed this round: back off, then a new round (as the real client does).
      const bounds = { minMs: this.timing.retryBackoffMs, maxMs: this.timing.retryBackoffMaxMs }
      const delay = backoffMs(op.rounds++, bounds, () => this.rng.next())
      op.rid = -1
      this.queue.after(delay, () => {
        if (this.current !== op) return
        op.round = new CallRound(this.group)
        this.attempt()
      })
      return
    }
    op.rid = ++this.rid
    const rid = op.rid
    this.net.sendRequest(this.name, to, rid, op.req)
    this.queue.after(this.timing.requestTimeoutMs, () => {
      if (this.current !== op || op.rid !== rid) return
      op.round.report(to, { kind: 'failed' })
      this.attempt()
    })
  }

  onReply(from: string, rid: number, resp: ClientResponse | ReplicaStatus): void {
    const op = this.current
    if (op === null || rid !== op.rid || resp.type === 'status') return
    op.rid = -1 // this attempt is over; ignore its timer
    if (resp.type === 'result') {
      op.round.report(from, { kind: 'done' })
      return this.finish(op, toOutput(resp))
    }
    switch (resp.code) {
      case 'NOT_LEADER':
        op.round.report(from, { kind: 'not-leader', hint: resp.leader ?? null })
        break
      case 'UNAVAILABLE':
      case 'TIMEOUT':
        op.round.report(from, { kind: 'failed' })
        break
      case 'BAD_REQUEST':
      case 'SESSION_EXPIRED':
      case 'WRONG_SHARD':
        // None of these can happen to a well-behaved client of one group: a bug under test.
        this.unexpected.push(`${this.name} ${JSON.stringify(op.input)}: ${resp.code} ${resp.message}`)
        return this.giveUp(op)
    }
    this.attempt()
  }

  private finish(op: InFlight, output: KvOutput): void {
    this.history.complete(op.opId, output, this.queue.now)
    this.done(op)
    this.completed++
  }

  private giveUp(op: InFlight): void {
    this.history.completeUnknown(op.opId)
    this.done(op)
    this.gaveUp++
  }

  private done(op: InFlight): void {
    // One operation at a time: its answer (or our giving up on it) acknowledges its seq,
    // so a late copy of it can never apply after the next one.
    if (op.req.seq > 0) this.ackedSeq = op.req.seq
    this.current = null
    this.queue.after(this.rng.next() * this.timing.thinkMs, () => this.startNext())
  }
}

function toOp(input: KvInput): KvOp {
  switch (input.op) {
    case 'get':
      return { op: 'get', key: input.key }
    case 'delete':
      return { op: 'delete', key: input.key }
    case 'put':
    case 'append':
      return { op: input.op, key: input.key, value: encoder.encode(input.value) }
    case 'batchPut':
      return { op: 'batchPut', entries: input.entries.map(([k, v]) => [k, encoder.encode(v)] as const) }
  }
}

function toOutput(resp: Extract<ClientResponse, { type: 'result' }>): KvOutput {
  const r = resp.result
  switch (r.type) {
    case 'value':
      return { type: 'value', value: r.value === null ? null : decoder.decode(r.value) }
    case 'deleted':
      return { type: 'deleted', existed: r.existed }
    case 'ok':
      return { type: 'ok' }
    case 'shardMap':
    case 'epoch':
      throw new Error(`a KV operation answered with a controller result (${r.type})`)
  }
}
