import fc from 'fast-check'
import { pack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { FrameError } from './errors.js'
import { FrameDecoder, FrameEncoder } from './frame.js'

/** Decoded binary arrives as Buffer (a Uint8Array); compare as plain Uint8Arrays. */
function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value)
  if (Array.isArray(value)) return value.map(normalize)
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]))
  }
  return value
}

const leaf = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double({ noNaN: true }).filter((d) => !Object.is(d, -0)),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 64 }),
)
const { value: nested } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 5 }),
}))
const message = fc.record({ type: fc.string({ maxLength: 12 }), body: nested, bytes: fc.uint8Array({ maxLength: 32 }) })

function decodeAll(bytes: Uint8Array, maxFrameBytes?: number): unknown[] {
  return new FrameDecoder(maxFrameBytes === undefined ? {} : { maxFrameBytes }).decode(bytes)
}

describe('framing', () => {
  it('round-trips random messages, one encoder and one decoder per stream', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 8 }), (msgs) => {
        const bytes = new FrameEncoder().encode(msgs)
        const decoded = decodeAll(bytes)
        expect(decoded.map(normalize)).toEqual(msgs.map(normalize))
      }),
      { numRuns: 300 },
    )
  })

  it('hands back Uint8Array values as Uint8Arrays', () => {
    const [msg] = decodeAll(new FrameEncoder().encode([{ type: 'append', data: new Uint8Array([0, 1, 255]) }])) as [{ data: unknown }]
    expect(msg.data).toBeInstanceOf(Uint8Array)
    expect([...(msg.data as Uint8Array)]).toEqual([0, 1, 255])
  })

  it('decodes a stream split at every byte boundary', () => {
    const msgs = [
      { type: 'vote', term: 3, candidate: 'n2' },
      { type: 'append', term: 3, entries: [{ index: 1, data: new Uint8Array([9, 8]) }] },
      { type: 'vote', term: 4, candidate: 'n3' },
    ]
    const bytes = new FrameEncoder().encode(msgs)
    for (let cut = 0; cut <= bytes.length; cut++) {
      const decoder = new FrameDecoder()
      const first = decoder.decode(bytes.subarray(0, cut))
      const rest = decoder.decode(bytes.subarray(cut))
      expect([...first, ...rest].map(normalize), `cut at ${cut}`).toEqual(msgs.map(normalize))
    }
  })

  it('decodes a stream fed one byte at a time', () => {
    const msgs = [{ type: 'a', n: 1 }, { type: 'b', s: 'x'.repeat(300) }, { type: 'a', n: 2 }]
    const bytes = new FrameEncoder().encode(msgs)
    const decoder = new FrameDecoder()
    const out: unknown[] = []
    for (let i = 0; i < bytes.length; i++) out.push(...decoder.decode(bytes.subarray(i, i + 1)))
    expect(out).toEqual(msgs)
    expect(decoder.bufferedBytes).toBe(0)
  })

  it('decodes many frames arriving in one chunk', () => {
    const msgs = Array.from({ length: 2000 }, (_, i) => ({ type: i % 2 ? 'append' : 'vote', i }))
    expect(decodeAll(new FrameEncoder().encode(msgs))).toEqual(msgs)
  })

  it('rejects an oversized length from the 4 header bytes alone, buffering nothing', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1024 })
    const header = Buffer.alloc(4)
    header.writeUInt32BE(1024 ** 3, 0)
    decoder.push(header)
    expect(() => decoder.next()).toThrowError(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }))
    expect(decoder.bufferedBytes).toBe(0)
    // Spent: nothing more comes out of it.
    decoder.push(new FrameEncoder().encode([{ type: 'ok' }]))
    expect(() => decoder.next()).toThrow(FrameError)
  })

  it('accepts a frame of exactly maxFrameBytes and refuses one byte more', () => {
    const encoder = new FrameEncoder()
    const frame = encoder.encode([{ type: 'x', pad: 'y'.repeat(100) }])
    const payloadBytes = frame.length - 4
    expect(decodeAll(frame, payloadBytes)).toHaveLength(1)
    expect(() => decodeAll(frame, payloadBytes - 1)).toThrowError(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }))
  })

  it('refuses to encode a message above maxFrameBytes', () => {
    const encoder = new FrameEncoder({ maxFrameBytes: 100 })
    expect(() => encoder.encode([{ type: 'big', data: new Uint8Array(200) }])).toThrowError(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE', name: 'FrameError' }),
    )
  })

  it.each([
    ['an empty frame', Buffer.from([0, 0, 0, 0])],
    ['an unknown extension', Buffer.from([0, 0, 0, 4, 0xc7, 5, 0x72, 1])],
    ['a truncated string', Buffer.from([0, 0, 0, 3, 0xd9, 10, 65])],
    ['trailing bytes in the payload', Buffer.from([0, 0, 0, 3, 0x01, 0x02, 0x03])],
    ['a number instead of an object', Buffer.from([0, 0, 0, 1, 0x05])],
    ['an object without a string type', Buffer.concat([Buffer.from([0, 0, 0, 6]), Buffer.from(pack({ t: 1 }))])],
  ])('rejects %s as FRAME_MALFORMED', (_name, bytes) => {
    expect(() => decodeAll(bytes)).toThrowError(expect.objectContaining({ code: 'FRAME_MALFORMED' }))
  })

  it('reads plain MessagePack maps from a foreign encoder', () => {
    const payload = Buffer.from(pack({ type: 'hello', clusterId: 'c', nested: { a: [1, 2] } }))
    const header = Buffer.alloc(4)
    header.writeUInt32BE(payload.length, 0)
    expect(decodeAll(Buffer.concat([header, payload]))).toEqual([{ type: 'hello', clusterId: 'c', nested: { a: [1, 2] } }])
  })
})
