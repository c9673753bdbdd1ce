import { DropOldestQueue } from './bounded-queue.js'
import { AbortError, ConnectionClosedError, TooManyPendingError, TransportTimeoutError } from './errors.js'
import { dial } from './dial.js'
import type { CloseInfo, FramedConnection } from './framed-connection.js'
import type { Hello } from './handshake.js'
import { resolveTransportLimits, type TransportLimits } from './limits.js'
import { noopLogger, type Logger } from './logger.js'
import type { OutgoingMessage, TransportMessage } from './message.js'
import { createStats, type TransportStats } from './stats.js'
import type { DialTls } from './tls.js'

export interface ClientConnectOptions {
  readonly host: string
  readonly port: number
  /** Left out: the replica judges the hello by the token alone (see `Hello.clusterId`). */
  readonly clusterId?: string
  readonly token: string
  /** Dial with TLS: verify the replica against the CA; present `cert`/`key` if given. Default: plain TCP. */
  readonly tls?: DialTls
  /** A name for this client, shown in the server's logs and `ClientConnectionInfo`. */
  readonly nodeId?: string
  readonly maxFrameBytes?: number
  /** Default timeout of `request` (limits.requestTimeoutMs otherwise). */
  readonly requestTimeoutMs?: number
  readonly limits?: Partial<TransportLimits>
  readonly logger?: Logger
}

export interface RequestOptions {
  /** Default: the connection's requestTimeoutMs. `Infinity`: wait until the connection closes. */
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
}

/** The longest delay setTimeout honours (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1

interface Pending {
  readonly resolve: (response: TransportMessage) => void
  readonly reject: (err: Error) => void
  readonly timer: NodeJS.Timeout | null
  readonly signal: AbortSignal | undefined
  readonly onAbort: () => void
}

/**
 * One client connection to one replica, with many requests in flight (pipelining). The
 * transport adds an `id` field to each request (overwriting any the caller set) and matches
 * the reply that echoes it; a reply nobody waits for any more is dropped and counted.
 *
 * No reconnection here: when the socket dies every pending request rejects with
 * `ConnectionClosedError`, and the client library decides where to retry (a request that was
 * sent may have been applied; its session id and sequence number make the retry safe).
 */
export class ClientConnection {
  /** The replica that welcomed us. */
  readonly serverNodeId: string
  readonly #conn: FramedConnection
  readonly #queue: DropOldestQueue<OutgoingMessage>
  readonly #limits: TransportLimits
  readonly #stats: TransportStats
  readonly #logger: Logger
  readonly #requestTimeoutMs: number
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #closedBy: ConnectionClosedError | null = null

  private constructor(args: {
    conn: FramedConnection
    serverNodeId: string
    queue: DropOldestQueue<OutgoingMessage>
    limits: TransportLimits
    stats: TransportStats
    logger: Logger
    requestTimeoutMs: number
  }) {
    this.#conn = args.conn
    this.serverNodeId = args.serverNodeId
    this.#queue = args.queue
    this.#limits = args.limits
    this.#stats = args.stats
    this.#logger = args.logger
    this.#requestTimeoutMs = args.requestTimeoutMs
  }

  /**
   * Connects and shakes hands. Rejects with `HandshakeRefusedError` (wrong cluster or token,
   * or a certificate the replica does not accept), `TlsError` (the replica's certificate, or
   * TLS on one side only), `ConnectionClosedError` (cannot connect) or `TransportTimeoutError`.
   */
  static async connect(options: ClientConnectOptions): Promise<ClientConnection> {
    const limits = resolveTransportLimits({
      ...options.limits,
      ...(options.maxFrameBytes === undefined ? {} : { maxFrameBytes: options.maxFrameBytes }),
    })
    // Twice the in-flight bound: requests that timed out while still queued leave their slot
    // in the queue, and the queue must not evict live requests before them.
    const queue = new DropOldestQueue<OutgoingMessage>(limits.maxPendingRequests * 2)
    const stats = createStats()
    const base: Hello = { type: 'hello', ...(options.clusterId === undefined ? {} : { clusterId: options.clusterId }), token: options.token, role: 'client' }
    const hello: Hello = options.nodeId === undefined ? base : { ...base, nodeId: options.nodeId }
    // The handlers need the instance, which needs the connection: bind through a holder.
    let self: ClientConnection | null = null
    const early: TransportMessage[] = []
    const { conn, welcome } = await dial({
      host: options.host,
      port: options.port,
      hello,
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      limits,
      queue,
      stats,
      onMessage: (msg) => (self ? self.#onMessage(msg) : early.push(msg)),
      onClose: (info) => {
        if (self !== null) self.#onClose(info)
      },
    })
    self = new ClientConnection({
      conn,
      serverNodeId: welcome.nodeId,
      queue,
      limits,
      stats,
      logger: options.logger ?? noopLogger,
      requestTimeoutMs: options.requestTimeoutMs ?? limits.requestTimeoutMs,
    })
    for (const msg of early) self.#onMessage(msg)
    if (conn.closed) self.#onClose({ reason: 'closed right after the handshake', error: null, protocolError: false })
    conn.startFlushing()
    return self
  }

  get closed(): boolean {
    return this.#closedBy !== null
  }

  /** Requests sent (or queued) and not yet answered, timed out or aborted. */
  get pendingCount(): number {
    return this.#pending.size
  }

  stats(): TransportStats {
    return { ...this.#stats, queuedMessages: this.#queue.length, socketBufferedBytes: this.#conn.socketBufferedBytes }
  }

  /**
   * Sends `msg` and resolves with the reply that carries the same `id`. Rejects with
   * `TransportTimeoutError`, `AbortError`, `ConnectionClosedError` or `TooManyPendingError`.
   */
  request<M extends OutgoingMessage>(msg: M, options: RequestOptions = {}): Promise<TransportMessage> {
    if (this.#closedBy !== null) return Promise.reject(this.#closedBy)
    const signal = options.signal
    if (signal?.aborted) return Promise.reject(new AbortError(signal.reason))
    if (this.#pending.size >= this.#limits.maxPendingRequests) {
      return Promise.reject(new TooManyPendingError(this.#limits.maxPendingRequests))
    }
    const id = this.#nextId++
    const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs
    return new Promise<TransportMessage>((resolve, reject) => {
      // Infinity means no timeout (setTimeout would fire at once for it).
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => this.#settle(id)?.reject(new TransportTimeoutError(`request ${JSON.stringify(msg.type)}`, timeoutMs)), Math.min(timeoutMs, MAX_TIMER_MS))
        : null
      const onAbort = () => this.#settle(id)?.reject(new AbortError(signal?.reason))
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#pending.set(id, { resolve, reject, timer, signal, onAbort })
      this.#conn.enqueue({ ...msg, id })
    })
  }

  /** Closes the connection; pending requests reject with `ConnectionClosedError`. */
  async close(): Promise<void> {
    this.#conn.close({ reason: 'closed by the client', error: null, protocolError: false })
    await this.#conn.whenClosed()
  }

  /** Removes and returns the waiting request `id`, with its timer and abort listener undone. */
  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id)
    if (pending === undefined) return undefined
    this.#pending.delete(id)
    if (pending.timer !== null) clearTimeout(pending.timer)
    pending.signal?.removeEventListener('abort', pending.onAbort)
    return pending
  }

  #onMessage(msg: TransportMessage): void {
    const pending = typeof msg.id === 'number' ? this.#settle(msg.id) : undefined
    if (pending === undefined) {
      this.#stats.droppedUnmatched++
      this.#logger.debug({ type: msg.type, id: msg.id }, 'reply without a waiting request dropped')
      return
    }
    pending.resolve(msg)
  }

  #onClose(info: CloseInfo): void {
    if (this.#closedBy !== null) return
    this.#closedBy = new ConnectionClosedError(info.reason, { cause: info.error ?? undefined })
    if (info.protocolError) this.#stats.protocolErrors++
    this.#logger.debug({ server: this.serverNodeId, reason: info.reason }, 'client connection closed')
    // Bounded by maxPendingRequests.
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(this.#closedBy)
    this.#queue.clear()
  }
}
