import type { Socket } from 'node:net'
import type { DropOldestQueue } from './bounded-queue.js'
import { FrameError } from './errors.js'
import { FrameDecoder, FrameEncoder } from './frame.js'
import type { OutgoingMessage, TransportMessage } from './message.js'
import type { TransportStats } from './stats.js'

/** Why a connection ended. `protocolError`: the remote sent something we refuse. */
export interface CloseInfo {
  readonly reason: string
  readonly error: Error | null
  readonly protocolError: boolean
}

export interface FramedConnectionOptions {
  readonly socket: Socket
  /** Frame bound for outgoing frames, and for incoming ones once `maxIncomingFrameBytes` is raised. */
  readonly maxFrameBytes: number
  /** The incoming frame bound to start with (smaller before the handshake). */
  readonly maxIncomingFrameBytes: number
  readonly maxBatchBytes: number
  readonly maxBatchFrames: number
  /** Outgoing messages; owned by the caller so that it can outlive this connection. */
  readonly queue: DropOldestQueue<OutgoingMessage>
  readonly stats: TransportStats
  readonly onMessage: (msg: TransportMessage) => void
  readonly onClose: (info: CloseInfo) => void
}

/**
 * One socket speaking frames. Incoming: chunks → decoder → `onMessage`, one message at a time.
 * Outgoing: `enqueue` → the caller's bounded queue → batches of frames, one socket write each,
 * gathered in a microtask so that the messages of one synchronous burst leave together.
 * Respects backpressure: once `write()` returns false nothing more is written until 'drain';
 * meanwhile messages wait in the bounded queue (and the oldest are dropped when it is full).
 */
export class FramedConnection {
  readonly socket: Socket
  readonly #options: FramedConnectionOptions
  readonly #encoder: FrameEncoder
  readonly #decoder: FrameDecoder
  #flushing = false
  #flushScheduled = false
  #waitingForDrain = false
  #closed = false
  #endTimer: NodeJS.Timeout | null = null
  readonly #socketClosed: Promise<void>

  constructor(options: FramedConnectionOptions) {
    this.#options = options
    this.socket = options.socket
    this.#encoder = new FrameEncoder({ maxFrameBytes: options.maxFrameBytes })
    this.#decoder = new FrameDecoder({ maxFrameBytes: options.maxIncomingFrameBytes })
    const socket = options.socket
    this.#socketClosed = new Promise((resolve) => socket.once('close', () => resolve()))
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('drain', () => {
      this.#waitingForDrain = false
      this.#flush()
    })
    socket.on('error', (err) => this.#finish({ reason: err.message, error: err, protocolError: false }))
    socket.on('close', () => this.#finish({ reason: this.#closeReason(), error: null, protocolError: false }))
  }

  get closed(): boolean {
    return this.#closed
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? 'unknown'
  }

  get remotePort(): number {
    return this.socket.remotePort ?? 0
  }

  /** Bytes handed to the socket and not yet taken by the kernel. */
  get socketBufferedBytes(): number {
    return this.socket.writableLength
  }

  /** Raises (or lowers) the bound for incoming frames whose length is not yet read. */
  setMaxIncomingFrameBytes(bytes: number): void {
    this.#decoder.maxFrameBytes = bytes
  }

  /** Writes one message now, ahead of the queue (handshake frames). */
  sendNow(msg: OutgoingMessage): void {
    if (this.#closed) return
    this.#writeFrames([msg])
  }

  /** Queues `msg`; counts a drop when the queue was full. Sent once flushing is started. */
  enqueue(msg: OutgoingMessage): void {
    const queue = this.#options.queue
    // A burst larger than the queue is not a slow reader: while the socket takes data, write
    // now rather than drop. Drops happen only when the socket pushes back (or before the
    // handshake is done).
    if (queue.length >= queue.capacity) this.#flush()
    if (queue.push(msg) !== undefined) this.#options.stats.droppedQueueFull += queue.lastEvictions
    this.#scheduleFlush()
  }

  /** From now on the queue drains into the socket (after the handshake). */
  startFlushing(): void {
    this.#flushing = true
    this.#scheduleFlush()
  }

  /** Sends `last` (if any), then closes gracefully; destroys after `graceMs` regardless. */
  end(last: OutgoingMessage | null, graceMs: number): void {
    if (this.#closed) return
    if (last !== null) this.#writeFrames([last])
    this.socket.end()
    this.#endTimer = setTimeout(() => this.socket.destroy(), graceMs)
  }

  /** Closes at once. `onClose` gets this reason. */
  close(info: CloseInfo): void {
    this.#finish(info)
  }

  /** Resolves once the socket has fully closed (after `close`, an error or the remote's end). */
  whenClosed(): Promise<void> {
    return this.#socketClosed
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || !this.#flushing || this.#closed) return
    this.#flushScheduled = true
    queueMicrotask(() => {
      this.#flushScheduled = false
      this.#flush()
    })
  }

  #flush(): void {
    const queue = this.#options.queue
    // Bounded: each round takes at least one message off a bounded queue.
    while (this.#flushing && !this.#waitingForDrain && !this.#closed && queue.length > 0) {
      const frames: Buffer[] = []
      let bytes = 0
      while (frames.length < this.#options.maxBatchFrames && bytes < this.#options.maxBatchBytes) {
        const msg = queue.shift()
        if (msg === undefined) break
        const frame = this.#encode(msg)
        if (frame === null) return
        frames.push(frame)
        bytes += frame.length
      }
      this.#write(frames.length === 1 ? frames[0]! : Buffer.concat(frames, bytes), frames.length)
    }
  }

  #writeFrames(msgs: readonly OutgoingMessage[]): void {
    for (const msg of msgs) {
      const frame = this.#encode(msg)
      if (frame === null) return
      this.#write(frame, 1)
    }
  }

  /** Null when the message cannot be encoded; the connection is then closed. */
  #encode(msg: OutgoingMessage): Buffer | null {
    try {
      return this.#encoder.encodeOne(msg)
    } catch (err) {
      // The encoder's record table may now differ from the peer decoder's: this connection
      // cannot be used any more (a peer link reconnects with a fresh codec).
      const error = err instanceof Error ? err : new Error(String(err))
      this.#finish({ reason: `cannot encode outgoing ${JSON.stringify(msg.type)} message: ${error.message}`, error, protocolError: false })
      return null
    }
  }

  #write(data: Buffer, frameCount: number): void {
    const stats = this.#options.stats
    stats.framesSent += frameCount
    stats.bytesSent += data.length
    stats.socketWrites++
    if (!this.socket.write(data)) this.#waitingForDrain = true
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return
    this.#options.stats.bytesReceived += chunk.length
    this.#decoder.push(chunk)
    // Bounded by the bytes just received: each message consumes at least 5 of them.
    while (!this.#closed) {
      let msg: TransportMessage | undefined
      try {
        msg = this.#decoder.next()
      } catch (err) {
        const error = err instanceof FrameError ? err : new FrameError('FRAME_MALFORMED', String(err))
        this.#finish({ reason: `${error.code}: ${error.message}`, error, protocolError: true })
        return
      }
      if (msg === undefined) return
      this.#options.stats.framesReceived++
      this.#options.onMessage(msg)
    }
  }

  #closeReason(): string {
    const partial = this.#decoder.bufferedBytes
    return partial > 0 ? `closed by the remote side mid-frame (${partial} bytes of a partial frame)` : 'closed by the remote side'
  }

  #finish(info: CloseInfo): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#endTimer !== null) clearTimeout(this.#endTimer)
    this.socket.destroy()
    this.#options.onClose(info)
  }
}
