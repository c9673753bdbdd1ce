import { backoffMs } from '@kv/consensus'
import { DropOldestQueue } from './bounded-queue.js'
import { HandshakeRefusedError, TlsError, UnknownPeerError } from './errors.js'
import { DelayLine, FaultInjector, type Classify, type FaultConfig } from './fault.js'
import type { CloseInfo, FramedConnection } from './framed-connection.js'
import { dial } from './dial.js'
import type { Hello, Welcome } from './handshake.js'
import { resolveTransportLimits, type TransportLimits } from './limits.js'
import { noopLogger, type Logger } from './logger.js'
import { approximateMessageBytes, LINK_PING, LINK_PONG, type OutgoingMessage } from './message.js'
import { addStats, createStats, type TransportStats } from './stats.js'
import type { DialTls } from './tls.js'

export interface PeerAddress {
  readonly host: string
  readonly port: number
}

/**
 * idle: never used; connecting: dialing or waiting for welcome; open: sending;
 * backoff: waiting to reconnect after a failure; closed: `close()` was called.
 */
export type PeerLinkState = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed'

export interface PeerTransportOptions {
  /** This replica's id, sent in every hello. */
  readonly nodeId: string
  readonly clusterId: string
  /** The peer credential presented in every hello: the cluster's peerToken (its token in configs without one). */
  readonly token: string
  /** Dial peers with TLS, presenting this replica's certificate (mutual TLS). Default: plain TCP. */
  readonly tls?: DialTls
  /** The address book: nodeId → where that replica listens. */
  readonly peers: Readonly<Record<string, PeerAddress>> | ReadonlyMap<string, PeerAddress>
  /** Connect from this local address (a replica's own listen address). Default: the OS picks. */
  readonly localAddress?: string
  readonly maxFrameBytes?: number
  readonly limits?: Partial<TransportLimits>
  readonly logger?: Logger
  /** Applied to every outgoing message. Off by default. */
  readonly faults?: FaultConfig
  readonly classify?: Classify
  /** A float in [0, 1); drives reconnect jitter and fault injection. Default Math.random. */
  readonly random?: () => number
}

function peerEntries(peers: PeerTransportOptions['peers']): [string, PeerAddress][] {
  const isMap = (p: typeof peers): p is ReadonlyMap<string, PeerAddress> => p instanceof Map
  return isMap(peers) ? [...peers.entries()] : Object.entries(peers)
}

interface LinkContext {
  readonly hello: Hello
  readonly tls: DialTls | undefined
  readonly localAddress: string | undefined
  readonly limits: TransportLimits
  readonly logger: Logger
  readonly random: () => number
}

/**
 * The outgoing half of one replica → replica pair: one connection, opened on first use,
 * reopened with backoff whenever it is lost, fed from one bounded queue that outlives the
 * connections (drop-oldest when full; see bounded-queue.ts).
 */
class PeerLink {
  readonly nodeId: string
  readonly address: PeerAddress
  readonly stats = createStats()
  readonly queue: DropOldestQueue<OutgoingMessage>
  #state: PeerLinkState = 'idle'
  #conn: FramedConnection | null = null
  #failures = 0
  #timer: NodeJS.Timeout | null = null
  #dialing: Promise<void> | null = null
  /** When the open connection last answered a probe (or opened). */
  #lastPongMs = 0
  #pings = 0
  #dialAbort: AbortController | null = null
  readonly #ctx: LinkContext

  constructor(nodeId: string, address: PeerAddress, ctx: LinkContext) {
    this.nodeId = nodeId
    this.address = address
    this.#ctx = ctx
    this.queue = new DropOldestQueue(ctx.limits.maxQueuedMessages, { maxBytes: ctx.limits.maxQueuedBytes, sizeOf: approximateMessageBytes })
  }

  get state(): PeerLinkState {
    return this.#state
  }

  get socketBufferedBytes(): number {
    return this.#conn?.socketBufferedBytes ?? 0
  }

  send(msg: OutgoingMessage): void {
    if (this.#state === 'closed') return
    if (this.#conn !== null) {
      this.#conn.enqueue(msg)
      return
    }
    // Not connected: wait in the same bounded queue (drop-oldest) until the link opens.
    if (this.queue.push(msg) !== undefined) this.stats.droppedQueueFull += this.queue.lastEvictions
    // A peer we failed to reach keeps only the newest few (limits.ts).
    if (this.#state === 'backoff') this.stats.droppedUnreachable += this.queue.trimTo(this.#ctx.limits.maxQueuedMessagesUnreachable)
    if (this.#state === 'idle') this.#connect()
  }

  /**
   * Liveness, once per `peerPingIntervalMs`: an open link probes its peer, and one whose probes
   * went unanswered for `peerSilenceMs` is closed (then redialed with backoff).
   */
  probe(nowMs: number): void {
    const conn = this.#conn
    if (this.#state !== 'open' || conn === null) return
    const limits = this.#ctx.limits
    if (nowMs - this.#lastPongMs > limits.peerSilenceMs) {
      this.stats.silentLinksReset++
      conn.close({ reason: `no answer to liveness probes for ${nowMs - this.#lastPongMs} ms (a connection left stale by a partition?)`, error: null, protocolError: false })
      return
    }
    const ping: OutgoingMessage & { n: number } = { type: LINK_PING, n: ++this.#pings }
    conn.enqueue(ping)
  }

  async close(): Promise<void> {
    this.#state = 'closed'
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.queue.clear()
    this.#dialAbort?.abort()
    const conn = this.#conn
    this.#conn = null
    conn?.close({ reason: 'transport closing', error: null, protocolError: false })
    // Once these settle no socket of this link is open.
    await Promise.all([conn?.whenClosed(), this.#dialing])
  }

  #connect(): void {
    this.#state = 'connecting'
    const abort = new AbortController()
    this.#dialAbort = abort
    this.#dialing = dial({
      signal: abort.signal,
      ...this.address,
      hello: this.#ctx.hello,
      ...(this.#ctx.tls === undefined ? {} : { tls: this.#ctx.tls }),
      ...(this.#ctx.localAddress === undefined ? {} : { localAddress: this.#ctx.localAddress }),
      limits: this.#ctx.limits,
      queue: this.queue,
      stats: this.stats,
      onMessage: (msg) => {
        if (msg.type === LINK_PONG) {
          this.#lastPongMs = Date.now()
          return
        }
        // Peers answer on their own connections, never on ours (README: one direction each).
        this.#conn?.close({ reason: `unexpected ${JSON.stringify(msg.type)} message on an outgoing peer connection`, error: null, protocolError: true })
      },
      onClose: (info) => this.#onClose(info),
    }).then(
      ({ conn, welcome }) => this.#onDialed(conn, welcome),
      (err: unknown) => this.#onDialFailed(err),
    )
  }

  #onDialed(conn: FramedConnection, welcome: Welcome): Promise<void> | undefined {
    if (this.#state === 'closed') {
      conn.close({ reason: 'transport closing', error: null, protocolError: false })
      return conn.whenClosed()
    }
    // Lost between the welcome and now: #onClose has already scheduled the reconnect.
    if (conn.closed) return undefined
    if (welcome.nodeId !== this.nodeId) {
      this.#ctx.logger.warn({ peer: this.nodeId, answeredAs: welcome.nodeId, ...this.address }, 'peer address answers with another node id')
    }
    this.#conn = conn
    this.#state = 'open'
    this.#failures = 0
    this.#lastPongMs = Date.now()
    this.#ctx.logger.info({ peer: this.nodeId, ...this.address }, 'peer link open')
    conn.startFlushing()
    return undefined
  }

  #onDialFailed(err: unknown): void {
    if (this.#state === 'closed') return
    const fields = { peer: this.nodeId, ...this.address, err, failures: this.#failures + 1 }
    if (err instanceof HandshakeRefusedError) this.#ctx.logger.error(fields, 'peer refused our hello')
    else if (err instanceof TlsError && err.code !== 'TLS_HANDSHAKE_FAILED') this.#ctx.logger.error(fields, 'peer TLS refused; retrying with backoff')
    else if (this.#failures === 0) this.#ctx.logger.warn(fields, 'cannot reach peer; retrying with backoff')
    else this.#ctx.logger.debug(fields, 'cannot reach peer')
    this.#scheduleReconnect()
  }

  #onClose(info: CloseInfo): void {
    this.#conn = null
    if (this.#state === 'closed') return
    if (info.protocolError) this.stats.protocolErrors++
    this.#ctx.logger.warn({ peer: this.nodeId, ...this.address, reason: info.reason }, 'peer link lost; reconnecting')
    this.#scheduleReconnect()
  }

  #scheduleReconnect(): void {
    this.#failures++
    this.#state = 'backoff'
    this.stats.droppedUnreachable += this.queue.trimTo(this.#ctx.limits.maxQueuedMessagesUnreachable)
    const limits = this.#ctx.limits
    const delayMs = backoffMs(this.#failures, { minMs: limits.reconnectMinDelayMs, maxMs: limits.reconnectMaxDelayMs }, this.#ctx.random)
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.stats.reconnects++
      this.#connect()
    }, delayMs)
  }
}

/**
 * Sends consensus messages to the other replicas. Each replica sends only on connections it
 * opened and receives only on connections it accepted (`TransportServer.onPeerMessage`), so a
 * pair of replicas uses two connections, one per direction, and there is never a question of
 * which of two simultaneous connections wins. Fire and forget: what is lost (queue full,
 * connection lost, fault injection) the protocols retransmit.
 */
export class PeerTransport {
  readonly #links = new Map<string, PeerLink>()
  readonly #faults: FaultInjector
  readonly #delays: DelayLine
  #closed = false

  constructor(options: PeerTransportOptions) {
    const limits = resolveTransportLimits({
      ...options.limits,
      ...(options.maxFrameBytes === undefined ? {} : { maxFrameBytes: options.maxFrameBytes }),
    })
    const random = options.random ?? Math.random
    this.#faults = new FaultInjector(options.faults, { random, ...(options.classify ? { classify: options.classify } : {}) })
    this.#delays = new DelayLine(this.#faults.delayMs, limits.maxQueuedMessages)
    const ctx: LinkContext = {
      hello: { type: 'hello', clusterId: options.clusterId, token: options.token, role: 'peer', nodeId: options.nodeId },
      tls: options.tls,
      localAddress: options.localAddress,
      limits,
      logger: options.logger ?? noopLogger,
      random,
    }
    this.#ctx = ctx
    for (const [nodeId, address] of peerEntries(options.peers)) this.#links.set(nodeId, new PeerLink(nodeId, address, ctx))
    this.#prober = setInterval(() => {
      const now = Date.now()
      for (const link of this.#links.values()) link.probe(now)
    }, limits.peerPingIntervalMs)
    this.#prober.unref()
  }

  readonly #prober: NodeJS.Timeout
  readonly #ctx: LinkContext

  /**
   * Adds `nodeId` to the address book, or moves it to a new address (a replica admitted to
   * the group at runtime, `kv member add`). A moved peer's old link closes, dropping what it
   * had queued (the protocols retransmit). Returns whether anything changed.
   */
  setPeer(nodeId: string, address: PeerAddress): boolean {
    if (this.#closed) return false
    const old = this.#links.get(nodeId)
    if (old !== undefined && old.address.host === address.host && old.address.port === address.port) return false
    this.#links.set(nodeId, new PeerLink(nodeId, address, this.#ctx))
    if (old !== undefined) void old.close()
    return true
  }

  /** Where `nodeId` is dialed, or undefined when it is not in the address book. */
  peerAddress(nodeId: string): PeerAddress | undefined {
    return this.#links.get(nodeId)?.address
  }

  /** `nodeId` is in the address book. */
  hasPeer(nodeId: string): boolean {
    return this.#links.has(nodeId)
  }

  /** Queues `msg` for `toNodeId`. Never blocks, never throws for network reasons. */
  send<M extends OutgoingMessage>(toNodeId: string, msg: M): void {
    const link = this.#links.get(toNodeId)
    if (link === undefined) throw new UnknownPeerError(toNodeId)
    if (this.#closed) return
    if (this.#faults.shouldDrop(msg)) {
      link.stats.droppedByFault++
      return
    }
    if (this.#faults.delayMs <= 0) {
      link.send(msg)
      return
    }
    if (!this.#delays.schedule(() => link.send(msg))) link.stats.droppedQueueFull++
  }

  peerState(nodeId: string): PeerLinkState {
    const link = this.#links.get(nodeId)
    if (link === undefined) throw new UnknownPeerError(nodeId)
    return link.state
  }

  peerStats(nodeId: string): TransportStats {
    const link = this.#links.get(nodeId)
    if (link === undefined) throw new UnknownPeerError(nodeId)
    return { ...link.stats, queuedMessages: link.queue.length, socketBufferedBytes: link.socketBufferedBytes }
  }

  /** Totals over every peer; `queuedMessages` includes messages held back by `delayMs`. */
  stats(): TransportStats {
    let total: TransportStats = { ...createStats(), queuedMessages: this.#delays.pending }
    for (const nodeId of this.#links.keys()) total = addStats(total, this.peerStats(nodeId))
    return total
  }

  /** Closes every link and drops what is queued. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#prober)
    this.#delays.clear()
    await Promise.all([...this.#links.values()].map((link) => link.close()))
  }
}
