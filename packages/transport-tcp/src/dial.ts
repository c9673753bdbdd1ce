import { connect, type Socket } from 'node:net'
import type { DropOldestQueue } from './bounded-queue.js'
import { ConnectionClosedError, HandshakeRefusedError, TlsError, TransportTimeoutError } from './errors.js'
import { FramedConnection, type CloseInfo } from './framed-connection.js'
import { parseAnswer, type Hello, type Welcome } from './handshake.js'
import type { TransportLimits } from './limits.js'
import type { OutgoingMessage, TransportMessage } from './message.js'
import type { TransportStats } from './stats.js'
import { dialTls, looksLikeTls, tlsDialError, type DialTls } from './tls.js'

export interface DialOptions {
  readonly host: string
  readonly port: number
  /** The local address to connect from (a replica connects from its own listen address, so its peers' traffic is identifiable by address). */
  readonly localAddress?: string
  readonly hello: Hello
  /** Dial with TLS (verifying the listener against the CA and the host name). Default: plain TCP. */
  readonly tls?: DialTls
  readonly limits: TransportLimits
  readonly queue: DropOldestQueue<OutgoingMessage>
  readonly stats: TransportStats
  /** Messages after the welcome. */
  readonly onMessage: (msg: TransportMessage) => void
  /** The end of a connection that got its welcome (a failed dial rejects instead). */
  readonly onClose: (info: CloseInfo) => void
  /** Gives up the dial (rejects with ConnectionClosedError once the socket is closed). */
  readonly signal?: AbortSignal
}

export interface Dialed {
  readonly conn: FramedConnection
  readonly welcome: Welcome
}

/**
 * Opens a connection and does the connecting side of the handshake: hello out, then wait for
 * welcome (resolve) or refused (reject with `HandshakeRefusedError`). TCP errors and a close
 * before the answer reject with `ConnectionClosedError`; a failed TLS handshake (or a plain
 * dial answered in TLS) with `TlsError`; no answer within
 * `limits.connectTimeoutMs` rejects with `TransportTimeoutError`. The queue is not flushed:
 * the caller calls `startFlushing()` when it is ready.
 */
export function dial(options: DialOptions): Promise<Dialed> {
  const { host, port, limits } = options
  return new Promise<Dialed>((resolve, reject) => {
    let settled = false
    let welcomed = false
    const fail = (err: Error, info: CloseInfo | null) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      conn.close(info ?? { reason: err.message, error: err, protocolError: false })
      void conn.whenClosed().then(() => reject(err))
    }
    const onAbort = () => fail(new ConnectionClosedError(`dial to ${host}:${port} given up`), null)
    const timer = setTimeout(() => fail(new TransportTimeoutError(`connecting to ${host}:${port}`, limits.connectTimeoutMs), null), limits.connectTimeoutMs)
    const onAnswer = (msg: TransportMessage) => {
      const answer = parseAnswer(msg)
      if ('invalid' in answer) {
        fail(new ConnectionClosedError(`bad handshake answer from ${host}:${port}: ${answer.invalid}`), { reason: answer.invalid, error: null, protocolError: true })
      } else if (answer.type === 'refused') {
        fail(new HandshakeRefusedError(answer.reason), null)
      } else {
        settled = true
        welcomed = true
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
        conn.setMaxIncomingFrameBytes(limits.maxFrameBytes)
        resolve({ conn, welcome: answer })
      }
    }
    const socket: Socket = options.tls === undefined
      ? connect({ host, port, ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) })
      : dialTls(options.tls, host, port, options.localAddress)
    let tcpConnected = false
    let tlsAnswer = false
    let answered = false
    socket.once('connect', () => {
      tcpConnected = true
      options.stats.connectionsOpened++
    })
    // Ahead of the frame decoder: a plain dial answered with a TLS record (an alert) is a
    // replica that requires TLS.
    if (options.tls === undefined) {
      socket.prependOnceListener('data', (chunk: Buffer) => {
        answered = true
        tlsAnswer = looksLikeTls(chunk)
      })
    }
    const closedBeforeWelcome = (info: CloseInfo): Error => {
      const where = `${host}:${port}`
      if (tlsAnswer) return new TlsError('TLS_REQUIRED', `${where} speaks TLS and this connection is plain TCP: configure tls (the cluster CA) to talk to it`)
      const tlsFailure = options.tls === undefined ? null : tlsDialError(info.error, where, tcpConnected)
      if (tlsFailure !== null) return tlsFailure
      // A kv listener answers every hello (welcome or refused); a TLS listener drops a plain
      // one without a word. So do a replica shutting down and services that are not kv.
      const silent = options.tls === undefined && tcpConnected && info.error === null && !info.protocolError && !answered
      const hint = silent ? ' without answering the hello (a replica that requires TLS does this to a plain-TCP client: is tls configured?)' : ''
      return new ConnectionClosedError(`${where}: ${info.reason}${hint}`, { cause: info.error ?? undefined })
    }
    const conn: FramedConnection = new FramedConnection({
      socket,
      maxFrameBytes: limits.maxFrameBytes,
      maxIncomingFrameBytes: limits.maxHelloFrameBytes,
      maxBatchBytes: limits.maxBatchBytes,
      maxBatchFrames: limits.maxBatchFrames,
      queue: options.queue,
      stats: options.stats,
      onMessage: (msg) => {
        if (welcomed) options.onMessage(msg)
        else if (!settled) onAnswer(msg)
      },
      onClose: (info) => {
        if (welcomed) options.onClose(info)
        else fail(closedBeforeWelcome(info), info)
      },
    })
    // Written once the socket connects (net buffers writes made before that).
    conn.sendNow(options.hello)
    if (options.signal?.aborted) onAbort()
    else options.signal?.addEventListener('abort', onAbort, { once: true })
  })
}
