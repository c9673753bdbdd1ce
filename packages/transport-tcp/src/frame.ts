import type { Packr, Unpackr } from 'msgpackr'
import { createPackr, createUnpackr } from './codec.js'
import { FrameError } from './errors.js'
import { FRAME_HEADER_BYTES, defaultTransportLimits } from './limits.js'
import { isTransportMessage, type OutgoingMessage, type TransportMessage } from './message.js'

/*
 * Frame format: a 4-byte big-endian unsigned payload length, then that many bytes of one
 * msgpackr-encoded message (settings in codec.ts). A length of 0 or above `maxFrameBytes` is
 * refused as soon as the 4 length bytes are in, before a byte of the payload is buffered.
 */

export interface FrameEncoderOptions {
  readonly maxFrameBytes?: number
}

/**
 * The outgoing half of one connection. Stateful (msgpackr sequential records): every frame it
 * returns must be written to the connection, in order. After it throws, its state no longer
 * matches the peer's decoder and the connection must be closed.
 */
export class FrameEncoder {
  readonly maxFrameBytes: number
  readonly #packr: Packr = createPackr()

  constructor(options: FrameEncoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? defaultTransportLimits.maxFrameBytes
  }

  /** Encodes the messages as consecutive frames in one buffer (one socket write). */
  encode<M extends OutgoingMessage>(msgs: readonly M[]): Buffer {
    const frames: Buffer[] = []
    let total = 0
    for (const msg of msgs) {
      const frame = this.encodeOne(msg)
      frames.push(frame)
      total += frame.length
    }
    return frames.length === 1 ? frames[0]! : Buffer.concat(frames, total)
  }

  encodeOne<M extends OutgoingMessage>(msg: M): Buffer {
    const payload = this.#packr.pack(msg)
    if (payload.length > this.maxFrameBytes) {
      throw new FrameError(
        'FRAME_TOO_LARGE',
        `outgoing ${JSON.stringify(msg.type)} message is ${payload.length} bytes, above maxFrameBytes ${this.maxFrameBytes}`,
      )
    }
    // Copy out of msgpackr's shared scratch buffer: the frame outlives the next pack().
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length)
    frame.writeUInt32BE(payload.length, 0)
    frame.set(payload, FRAME_HEADER_BYTES)
    return frame
  }
}

export interface FrameDecoderOptions {
  readonly maxFrameBytes?: number
}

/**
 * The incoming half of one connection: a gateway. It accumulates socket chunks and hands out
 * whole, validated messages; anything else is a typed `FrameError`, after which the decoder
 * is spent and the connection must be closed.
 *
 * Pull-based (`push` then `next` until undefined) so that the caller can act on one frame
 * (say, a hello that raises `maxFrameBytes`) before the next frame's length is judged.
 */
export class FrameDecoder {
  #maxFrameBytes: number
  readonly #unpackr: Unpackr = createUnpackr()
  readonly #chunks: Buffer[] = []
  /** Read position inside `#chunks[0]`. */
  #offset = 0
  #bufferedBytes = 0
  /** Payload length of the frame whose header has been read; -1 while waiting for a header. */
  #pendingFrameBytes = -1
  #failure: FrameError | null = null

  constructor(options: FrameDecoderOptions = {}) {
    this.#maxFrameBytes = options.maxFrameBytes ?? defaultTransportLimits.maxFrameBytes
  }

  get maxFrameBytes(): number {
    return this.#maxFrameBytes
  }

  /** Applies to frames whose length has not been read yet. */
  set maxFrameBytes(bytes: number) {
    this.#maxFrameBytes = bytes
  }

  /** Bytes received and not yet handed out (never more than a header, a payload and a chunk). */
  get bufferedBytes(): number {
    return this.#bufferedBytes
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.#chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    this.#bufferedBytes += chunk.length
  }

  /** The next whole message, or undefined until more bytes arrive. Throws `FrameError`. */
  next(): TransportMessage | undefined {
    if (this.#failure) throw this.#failure
    try {
      return this.#next()
    } catch (err) {
      this.#failure = err instanceof FrameError ? err : new FrameError('FRAME_MALFORMED', 'undecodable frame', { cause: err })
      this.#chunks.length = 0
      this.#bufferedBytes = 0
      throw this.#failure
    }
  }

  /** `push` then every whole message now available. */
  decode(chunk: Uint8Array): TransportMessage[] {
    this.push(chunk)
    const out: TransportMessage[] = []
    for (let msg = this.next(); msg !== undefined; msg = this.next()) out.push(msg)
    return out
  }

  #next(): TransportMessage | undefined {
    if (this.#pendingFrameBytes < 0) {
      if (this.#bufferedBytes < FRAME_HEADER_BYTES) return undefined
      const length = this.#take(FRAME_HEADER_BYTES).readUInt32BE(0)
      if (length > this.#maxFrameBytes) {
        throw new FrameError('FRAME_TOO_LARGE', `frame of ${length} bytes, above maxFrameBytes ${this.#maxFrameBytes}`)
      }
      if (length === 0) throw new FrameError('FRAME_MALFORMED', 'empty frame')
      this.#pendingFrameBytes = length
    }
    if (this.#bufferedBytes < this.#pendingFrameBytes) return undefined
    const payload = this.#take(this.#pendingFrameBytes)
    this.#pendingFrameBytes = -1
    return this.#decodePayload(payload)
  }

  #decodePayload(payload: Buffer): TransportMessage {
    let value: unknown
    try {
      value = this.#unpackr.unpack(payload)
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err)
      throw new FrameError('FRAME_MALFORMED', `undecodable payload: ${detail}`, { cause: err })
    }
    if (!isTransportMessage(value)) {
      throw new FrameError('FRAME_MALFORMED', 'payload is not an object with a string "type"')
    }
    return value
  }

  /** Removes `n` buffered bytes (n ≤ bufferedBytes); zero-copy when they lie in one chunk. */
  #take(n: number): Buffer {
    const first = this.#chunks[0]!
    this.#bufferedBytes -= n
    if (first.length - this.#offset >= n) {
      const bytes = first.subarray(this.#offset, this.#offset + n)
      this.#advance(first, n)
      return bytes
    }
    const out = Buffer.allocUnsafe(n)
    let written = 0
    while (written < n) {
      const chunk = this.#chunks[0]!
      const count = Math.min(chunk.length - this.#offset, n - written)
      chunk.copy(out, written, this.#offset, this.#offset + count)
      written += count
      this.#advance(chunk, count)
    }
    return out
  }

  #advance(chunk: Buffer, count: number): void {
    this.#offset += count
    if (this.#offset === chunk.length) {
      this.#chunks.shift()
      this.#offset = 0
    }
  }
}
