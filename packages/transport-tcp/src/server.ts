import { createServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { DropOldestQueue } from './bounded-queue.js'
import { ListenError, PortInUseError } from './errors.js'
import { DelayLine, FaultInjector, type Classify, type FaultConfig } from './fault.js'
import { FramedConnection, type CloseInfo } from './framed-connection.js'
import { checkCredentials, parseHello, type Hello, type Refused, type Welcome } from './handshake.js'
import { resolveTransportLimits, type TransportLimits } from './limits.js'
import { noopLogger, type Logger } from './logger.js'
import { approximateMessageBytes, LINK_PING, LINK_PONG, type OutgoingMessage, type TransportMessage } from './message.js'
import { createStats, type TransportStats } from './stats.js'
import { looksLikeTls, serverTlsOptions, tlsRefusal, type ListenTls } from './tls.js'

/** A client request as the server hands it over: `id` was added by the client's transport. */
export type ClientRequest = TransportMessage & { readonly id: number }

/** Who sent a client request (stable for the life of the connection). */
export interface ClientConnectionInfo {
  /** Unique among this server's connections. */
  readonly connId: number
  readonly remoteAddress: string
  readonly remotePort: number
  /** The name the client gave in its hello, if any. */
  readonly nodeId: string | null
}

/** Sends the answer to one request; the transport echoes the request's `id`. Extra calls are ignored. */
export type Reply = <M extends OutgoingMessage>(response: M) => void

export interface ListenOptions {
  readonly host: string
  /** 0 lets the OS choose; read the chosen one from `server.port`. */
  readonly port: number
  readonly clusterId: string
  /** What clients present in their hello. */
  readonly token: string
  /**
   * What peers present. Without it peers present `token` (the old single credential); with it
   * a peer hello with the client token is refused, so a client cannot join as a replica.
   */
  readonly peerToken?: string
  /** Serve TLS (node:tls) instead of plain TCP; peers must present a certificate the CA signed. */
  readonly tls?: ListenTls
  /**
   * With TLS: the host each known replica is dialed at. A peer hello naming one of them must
   * come with a certificate for that host (a replica cannot claim another's id). Peers not
   * listed need only a certificate of the CA.
   */
  readonly peerHosts?: ReadonlyMap<string, string>
  /** This replica's id, sent in every welcome. */
  readonly nodeId: string
  readonly maxFrameBytes?: number
  readonly limits?: Partial<TransportLimits>
  readonly logger?: Logger
  /** A message from a peer replica, on a connection that peer opened (see README). */
  readonly onPeerMessage: (fromNodeId: string, msg: TransportMessage) => void
  readonly onClientRequest: (msg: ClientRequest, reply: Reply, conn: ClientConnectionInfo) => void
  /** Applied to replies to clients (and to incoming client requests, if asked). Off by default. */
  readonly faults?: FaultConfig
  readonly faultIncomingClientRequests?: boolean
  readonly classify?: Classify
  readonly random?: () => number
}

type Phase =
  | { readonly kind: 'handshake'; readonly timer: NodeJS.Timeout }
  | { readonly kind: 'peer'; readonly nodeId: string }
  | { readonly kind: 'client' }
  /** Refused is sent and the socket is ending; whatever else arrives is ignored. */
  | { readonly kind: 'refused' }

interface Accepted {
  readonly conn: FramedConnection
  /** The TLS socket on a TLS listener (its certificate is checked at the hello), else null. */
  readonly tlsSocket: TLSSocket | null
  /** The first bytes on a plain listener were a TLS record: a TLS client dialed a plain replica. */
  tlsOnPlain: boolean
  readonly queue: DropOldestQueue<OutgoingMessage>
  readonly info: ClientConnectionInfo
  phase: Phase
  nodeIdFromHello: string | null
}

/**
 * The one listening port of a replica: peers and clients both connect here. Peer connections
 * are receive-only (a replica sends to its peers over connections it opened, `PeerTransport`);
 * client connections carry requests in and replies out.
 */
export class TransportServer {
  readonly #options: ListenOptions
  readonly #limits: TransportLimits
  readonly #logger: Logger
  readonly #server: Server
  readonly #accepted = new Set<Accepted>()
  readonly #stats = createStats()
  readonly #faults: FaultInjector
  readonly #delays: DelayLine
  #nextConnId = 1
  #closing: Promise<void> | null = null

  private constructor(options: ListenOptions, server: Server) {
    this.#options = options
    this.#limits = resolveTransportLimits({
      ...options.limits,
      ...(options.maxFrameBytes === undefined ? {} : { maxFrameBytes: options.maxFrameBytes }),
    })
    this.#logger = options.logger ?? noopLogger
    this.#faults = new FaultInjector(options.faults, {
      ...(options.classify ? { classify: options.classify } : {}),
      ...(options.random ? { random: options.random } : {}),
    })
    this.#delays = new DelayLine(this.#faults.delayMs, this.#limits.maxQueuedMessages)
    this.#server = server
    if (options.tls === undefined) {
      server.on('connection', (socket) => this.#accept(socket, null))
    } else {
      server.on('secureConnection', (socket: TLSSocket) => this.#accept(socket, socket))
      // The TLS handshake failed before any hello: a plain-TCP client, a bad certificate, a scan.
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
        this.#stats.protocolErrors++
        const plain = err.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || err.code === 'ERR_SSL_HTTP_REQUEST' || err.code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG'
        this.#logger.warn({
          remoteAddress: socket.remoteAddress ?? 'unknown', remotePort: socket.remotePort ?? 0, code: err.code,
          reason: plain ? `not TLS (a plain-TCP client? this replica requires TLS): ${err.message}` : err.message,
        }, 'TLS handshake failed')
      })
    }
  }

  /** Starts listening. Rejects with `PortInUseError` (code PORT_IN_USE) or `ListenError`. */
  static async listen(options: ListenOptions): Promise<TransportServer> {
    const limits = resolveTransportLimits(options.limits ?? {})
    const server: Server = options.tls === undefined ? createServer() : createTlsServer(serverTlsOptions(options.tls, limits.handshakeTimeoutMs))
    const transport = new TransportServer(options, server)
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        server.off('listening', onListening)
        reject(
          err.code === 'EADDRINUSE'
            ? new PortInUseError(options.host, options.port, err)
            : new ListenError(`cannot listen on ${options.host}:${options.port}: ${err.message}`, err),
        )
      }
      const onListening = () => {
        server.off('error', onError)
        resolve()
      }
      server.once('error', onError)
      server.once('listening', onListening)
      server.listen({ host: options.host, port: options.port })
    })
    server.on('error', (err: Error) => transport.#logger.error({ err }, 'listener error'))
    transport.#logger.info({ host: options.host, port: transport.port, nodeId: options.nodeId, tls: options.tls !== undefined }, 'listening')
    return transport
  }

  get port(): number {
    const address = this.#server.address()
    return typeof address === 'object' && address !== null ? address.port : this.#options.port
  }

  get host(): string {
    return this.#options.host
  }

  /** Accepted connections now open (any phase). */
  get connectionCount(): number {
    return this.#accepted.size
  }

  stats(): TransportStats {
    let queued = 0
    let buffered = 0
    for (const a of this.#accepted) {
      queued += a.queue.length
      buffered += a.conn.socketBufferedBytes
    }
    return { ...this.#stats, queuedMessages: queued + this.#delays.pending, socketBufferedBytes: buffered }
  }

  /** Stops accepting, closes every connection, cancels delayed replies. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#delays.clear()
      this.#server.close(() => resolve())
      for (const a of this.#accepted) a.conn.close({ reason: 'server closing', error: null, protocolError: false })
    })
    return this.#closing
  }

  #accept(socket: Socket, tlsSocket: TLSSocket | null): void {
    if (this.#closing) {
      socket.destroy()
      return
    }
    this.#stats.connectionsOpened++
    const queue = new DropOldestQueue<OutgoingMessage>(this.#limits.maxQueuedMessages, { maxBytes: this.#limits.maxQueuedBytes, sizeOf: approximateMessageBytes })
    const connId = this.#nextConnId++
    const accepted: Accepted = {
      queue,
      tlsSocket,
      tlsOnPlain: false,
      info: { connId, remoteAddress: socket.remoteAddress ?? 'unknown', remotePort: socket.remotePort ?? 0, nodeId: null },
      phase: { kind: 'handshake', timer: setTimeout(() => this.#handshakeTimedOut(accepted), this.#limits.handshakeTimeoutMs) },
      nodeIdFromHello: null,
      conn: new FramedConnection({
        socket,
        maxFrameBytes: this.#limits.maxFrameBytes,
        maxIncomingFrameBytes: this.#limits.maxHelloFrameBytes,
        maxBatchBytes: this.#limits.maxBatchBytes,
        maxBatchFrames: this.#limits.maxBatchFrames,
        queue,
        stats: this.#stats,
        onMessage: (msg) => this.#onMessage(accepted, msg),
        onClose: (info) => this.#onClose(accepted, info),
      }),
    }
    // Ahead of the decoder's listener: a TLS ClientHello here is a TLS client on a plain
    // listener, which deserves a better reason than "frame too large".
    if (tlsSocket === null) socket.prependOnceListener('data', (chunk: Buffer) => (accepted.tlsOnPlain = looksLikeTls(chunk)))
    this.#accepted.add(accepted)
    this.#logger.debug({ connId, remoteAddress: accepted.info.remoteAddress, remotePort: accepted.info.remotePort }, 'connection accepted')
  }

  #onMessage(a: Accepted, msg: TransportMessage): void {
    const phase = a.phase
    switch (phase.kind) {
      case 'handshake':
        this.#onHello(a, phase.timer, msg)
        return
      case 'peer':
        // The link's liveness probe: answered on the same connection, never handed over.
        if (msg.type === LINK_PING) {
          const pong: OutgoingMessage & { n: unknown } = { type: LINK_PONG, n: msg.n }
          a.conn.enqueue(pong)
          return
        }
        this.#guard(a, () => this.#options.onPeerMessage(phase.nodeId, msg))
        return
      case 'client':
        this.#onClientRequest(a, msg)
        return
      case 'refused':
        return
      default: {
        const never: never = phase
        throw new Error(`unexpected phase ${JSON.stringify(never)}`)
      }
    }
  }

  #onHello(a: Accepted, timer: NodeJS.Timeout, msg: TransportMessage): void {
    clearTimeout(timer)
    const hello = parseHello(msg)
    if ('invalid' in hello) {
      this.#protocolError(a, hello.invalid)
      return
    }
    const o = this.#options
    const refusal = checkCredentials(hello, { clusterId: o.clusterId, token: o.token, peerToken: o.peerToken })
      ?? tlsRefusal(a.tlsSocket, hello.role, o.tls?.requireClientCert === true, hello.nodeId === undefined ? undefined : o.peerHosts?.get(hello.nodeId))
    if (refusal !== null) {
      this.#refuse(a, hello, refusal)
      return
    }
    a.phase = hello.role === 'peer' ? { kind: 'peer', nodeId: hello.nodeId ?? '' } : { kind: 'client' }
    a.nodeIdFromHello = hello.nodeId ?? null
    a.conn.setMaxIncomingFrameBytes(this.#limits.maxFrameBytes)
    const welcome: Welcome = { type: 'welcome', nodeId: this.#options.nodeId }
    a.conn.sendNow(welcome)
    a.conn.startFlushing()
    this.#logger.info({ ...this.#where(a), role: hello.role, remoteNodeId: hello.nodeId }, 'handshake accepted')
  }

  #refuse(a: Accepted, hello: Hello, reason: string): void {
    this.#stats.protocolErrors++
    this.#logger.warn({ ...this.#where(a), role: hello.role, remoteNodeId: hello.nodeId, reason }, 'handshake refused')
    const refused: Refused = { type: 'refused', reason }
    a.phase = { kind: 'refused' }
    a.conn.end(refused, this.#limits.handshakeTimeoutMs)
  }

  #onClientRequest(a: Accepted, msg: TransportMessage): void {
    const id = msg.id
    if (typeof id !== 'number' || !Number.isSafeInteger(id)) {
      this.#protocolError(a, 'client request without an integer id')
      return
    }
    if (this.#options.faultIncomingClientRequests === true && this.#faults.shouldDrop(msg)) {
      this.#stats.droppedByFault++
      return
    }
    const info: ClientConnectionInfo = a.nodeIdFromHello === null ? a.info : { ...a.info, nodeId: a.nodeIdFromHello }
    let replied = false
    const reply: Reply = (response) => {
      if (replied) return
      replied = true
      const withId: OutgoingMessage & { readonly id: number } = { ...response, id }
      this.#sendReply(a, withId)
    }
    this.#guard(a, () => this.#options.onClientRequest(msg as ClientRequest, reply, info))
  }

  #sendReply(a: Accepted, response: OutgoingMessage): void {
    if (a.conn.closed) return
    if (this.#faults.shouldDrop(response)) {
      this.#stats.droppedByFault++
      return
    }
    if (this.#faults.delayMs <= 0) {
      a.conn.enqueue(response)
      return
    }
    const scheduled = this.#delays.schedule(() => {
      if (!a.conn.closed) a.conn.enqueue(response)
    })
    if (!scheduled) this.#stats.droppedQueueFull++
  }

  /** An application handler that throws is a bug there; it costs that connection, not the node. */
  #guard(a: Accepted, run: () => void): void {
    try {
      run()
    } catch (err) {
      this.#logger.error({ ...this.#where(a), err }, 'message handler threw; closing the connection')
      a.conn.close({ reason: 'message handler threw', error: err instanceof Error ? err : null, protocolError: false })
    }
  }

  #protocolError(a: Accepted, reason: string): void {
    a.conn.close({ reason, error: null, protocolError: true })
  }

  #handshakeTimedOut(a: Accepted): void {
    this.#protocolError(a, `no hello within ${this.#limits.handshakeTimeoutMs} ms`)
  }

  #onClose(a: Accepted, info: CloseInfo): void {
    if (a.phase.kind === 'handshake') clearTimeout(a.phase.timer)
    this.#accepted.delete(a)
    a.queue.clear()
    const reason = a.tlsOnPlain && a.phase.kind === 'handshake' ? `a TLS client on a plain-TCP listener (this replica runs without tls): ${info.reason}` : info.reason
    const fields = { ...this.#where(a), reason, ...(info.error ? { err: info.error } : {}) }
    if (info.protocolError) {
      this.#stats.protocolErrors++
      this.#logger.warn(fields, 'connection closed: protocol error')
    } else {
      this.#logger.debug(fields, 'connection closed')
    }
  }

  #where(a: Accepted): Record<string, unknown> {
    const phase = a.phase
    return {
      connId: a.info.connId,
      remoteAddress: a.info.remoteAddress,
      remotePort: a.info.remotePort,
      ...(phase.kind === 'peer' ? { peer: phase.nodeId } : {}),
    }
  }
}

/** `TransportServer.listen`. */
export function listen(options: ListenOptions): Promise<TransportServer> {
  return TransportServer.listen(options)
}
