import type { Rng } from '@kv/consensus'
import { backoffMs, CallRound, ReplicaGroup, type ClientResponse, type ControllerWriteOp, type ReplicaStatus } from '@kv/protocol'
import type { ClientTiming } from './client.js'
import type { EventQueue } from './event-queue.js'
import type { SimNetwork } from './network.js'
import { notLeaderVerdict } from './hints.js'

interface Change {
  readonly op: ControllerWriteOp
  readonly seq: number
  readonly done: (response: ClientResponse | null) => void
}

/**
 * An operator changing the shard map (`kv shard add/remove`), as a client of the controller
 * group: one change at a time, each retried under its own seq until the controller answers
 * (so a change is applied once, however often it is resent).
 */
export class SimAdmin {
  private seq = 0
  private ackedSeq = 0
  private rid = 0
  private readonly changes: Change[] = []
  private current: { change: Change; round: CallRound<string>; rounds: number; rid: number; startedAt: number } | null = null
  private readonly group: ReplicaGroup<string>
  /** Every change with what the controller answered (null: gave up). */
  readonly log: Array<{ op: ControllerWriteOp; response: ClientResponse | null; atMs: number }> = []

  constructor(
    readonly name: string,
    controller: readonly string[],
    private readonly timing: ClientTiming,
    private readonly queue: EventQueue,
    private readonly net: SimNetwork,
    private readonly rng: Rng,
  ) {
    this.group = new ReplicaGroup('controller', controller.map((id) => ({ address: id, id })), (id) => id)
  }

  get idle(): boolean {
    return this.current === null && this.changes.length === 0
  }

  /** Queues a change; `done` gets the controller's answer (null if it gave up at the deadline). */
  change(op: ControllerWriteOp, done: (response: ClientResponse | null) => void = () => undefined): void {
    this.changes.push({ op, seq: ++this.seq, done })
    if (this.current === null) this.startNext()
  }

  private startNext(): void {
    const change = this.changes.shift()
    if (change === undefined) return
    this.current = { change, round: new CallRound(this.group), rounds: 0, rid: 0, startedAt: this.queue.now }
    this.attempt()
  }

  private attempt(): void {
    const c = this.current
    if (c === null) return
    if (this.queue.now - c.startedAt > this.timing.opDeadlineMs * 10) return this.finish(null)
    const to = c.round.next()
    if (to === null) {
      c.rid = -1
      const delay = backoffMs(c.rounds++, { minMs: this.timing.retryBackoffMs, maxMs: this.timing.retryBackoffMaxMs }, () => this.rng.next())
      this.queue.after(delay, () => {
        if (this.current !== c) return
        c.round = new CallRound(this.group)
        this.attempt()
      })
      return
    }
    c.rid = ++this.rid
    const rid = c.rid
    const request = { type: 'controller', clientId: this.name, seq: c.change.seq, ackedSeq: this.ackedSeq, op: c.change.op }
    this.net.sendRequest(this.name, to, rid, request as never)
    this.queue.after(this.timing.requestTimeoutMs, () => {
      if (this.current !== c || c.rid !== rid) return
      c.round.report(to, { kind: 'failed' })
      this.attempt()
    })
  }

  onReply(from: string, rid: number, resp: ClientResponse | ReplicaStatus): void {
    const c = this.current
    if (c === null || rid !== c.rid || resp.type === 'status') return
    c.rid = -1
    if (resp.type === 'result' || resp.code === 'BAD_REQUEST') {
      c.round.report(from, { kind: 'done' })
      return this.finish(resp)
    }
    c.round.report(from, resp.code === 'NOT_LEADER' ? notLeaderVerdict(resp.leader) : { kind: 'failed' })
    this.attempt()
  }

  private finish(response: ClientResponse | null): void {
    const c = this.current!
    this.ackedSeq = c.change.seq
    this.current = null
    this.log.push({ op: c.change.op, response, atMs: this.queue.now })
    c.change.done(response)
    this.startNext()
  }
}
