/**
 * A raw TCP connection to a replica (node:net), for feeding it bytes no well-behaved client
 * sends. Frames we encode go through the transport's own `FrameEncoder` (the wire settings
 * must match); replies are read with its `FrameDecoder`.
 */
import { FrameDecoder, FrameEncoder, type TransportMessage } from '@kv/transport-tcp'
import net from 'node:net'
import { sleep } from './harness.js'

export class RawConnection {
  readonly messages: TransportMessage[] = []
  /** Why reading replies stopped, if it did (a reply we could not decode). */
  decodeError: Error | null = null
  readonly #socket: net.Socket
  readonly #encoder = new FrameEncoder()
  readonly #decoder = new FrameDecoder()
  readonly #closed: Promise<void>
  #isClosed = false

  private constructor(socket: net.Socket) {
    this.#socket = socket
    this.#closed = new Promise((resolve) => socket.once('close', () => {
      this.#isClosed = true
      resolve()
    }))
    socket.on('error', () => undefined) // ECONNRESET and the like: seen as 'close'
    socket.on('data', (chunk: Buffer) => {
      if (this.decodeError !== null) return
      try {
        this.messages.push(...this.#decoder.decode(chunk))
      } catch (e) {
        this.decodeError = e as Error
      }
    })
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host })
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(new RawConnection(socket))
      })
      socket.once('error', reject)
    })
  }

  /** Connects and says hello as a client (or a peer), and waits for the answer. */
  static async hello(port: number, auth: { clusterId: string; token: string }, role: 'client' | 'peer' = 'client', nodeId?: string): Promise<RawConnection> {
    const c = await RawConnection.connect(port)
    c.send({ type: 'hello', clusterId: auth.clusterId, token: auth.token, role, ...(nodeId === undefined ? {} : { nodeId }) })
    const answer = await c.nextMessage()
    if (answer?.type !== 'welcome') throw new Error(`expected welcome, got ${JSON.stringify(answer)}`)
    return c
  }

  get closed(): boolean {
    return this.#isClosed
  }

  /** Any object with a string `type`, encoded as the transport does. */
  send(msg: { readonly type: string; readonly [field: string]: unknown }): void {
    this.#socket.write(this.#encoder.encodeOne(msg))
  }

  writeBytes(bytes: Uint8Array): void {
    this.#socket.write(bytes)
  }

  /** Half-closes our side (FIN), keeps reading. */
  end(): void {
    this.#socket.end()
  }

  /** The next reply not yet taken, or undefined if none arrives within `timeoutMs` (or the socket closes). */
  async nextMessage(timeoutMs = 5000): Promise<TransportMessage | undefined> {
    const deadline = Date.now() + timeoutMs
    for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
      const m = this.messages.shift()
      if (m !== undefined) return m
      if (this.#isClosed) return undefined
      await sleep(10)
    }
    return this.messages.shift()
  }

  /** Whether the replica closes the connection within `timeoutMs`. */
  async closedWithin(timeoutMs = 5000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))
    const result = await Promise.race([this.#closed.then(() => true as const), timeout])
    clearTimeout(timer)
    return result
  }

  destroy(): void {
    this.#socket.destroy()
  }
}

/** A frame header announcing `length` payload bytes. */
export function lengthPrefix(length: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(length, 0)
  return b
}
