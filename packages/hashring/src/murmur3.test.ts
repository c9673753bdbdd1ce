import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hashKey, murmur3Bytes, murmur3Utf8 } from './murmur3.js'

const utf8 = new TextEncoder()
const bytes = (...values: number[]) => Uint8Array.from(values)

describe('murmur3Bytes', () => {
  // Published MurmurHash3_x86_32 vectors (SMHasher's algorithm; the table widely used to check
  // ports). If one fails, the function is not MurmurHash3 any more.
  it.each([
    [bytes(), 0, 0x00000000],
    [bytes(), 1, 0x514e28b7],
    [bytes(), 0xffffffff, 0x81f16f39],
    [bytes(0xff, 0xff, 0xff, 0xff), 0, 0x76293b50],
    [bytes(0x21, 0x43, 0x65, 0x87), 0, 0xf55b516b],
    [bytes(0x21, 0x43, 0x65, 0x87), 0x5082edee, 0x2362f9de],
    [bytes(0x21, 0x43, 0x65), 0, 0x7e4a8634],
    [bytes(0x21, 0x43), 0, 0xa0f7b07a],
    [bytes(0x21), 0, 0x72661cf4],
    [bytes(0, 0, 0, 0), 0, 0x2362f9de],
    [bytes(0, 0, 0), 0, 0x85f0b427],
    [bytes(0, 0), 0, 0x30f4c306],
    [bytes(0), 0, 0x514e28b7],
    [utf8.encode('hello'), 0, 0x248bfa47],
    [utf8.encode('aaaa'), 0x9747b28c, 0x5a97808a],
    [utf8.encode('abc'), 0x9747b28c, 0xc84a62dd],
    [utf8.encode('Hello, world!'), 0x9747b28c, 0x24884cba],
    [utf8.encode('ππππππππ'), 0x9747b28c, 0xd58063c1],
    [utf8.encode('a'.repeat(256)), 0x9747b28c, 0x37405bdc],
    [utf8.encode('The quick brown fox jumps over the lazy dog'), 0x9747b28c, 0x2fa826cd],
  ])('matches the published vector %#', (input, seed, expected) => {
    expect(murmur3Bytes(input, seed)).toBe(expected)
  })
})

describe('hashKey', () => {
  // Pinned: a change here re-places every key in every deployed ring.
  it.each([
    ['', 0x00000000],
    ['a', 0x3c2569b2],
    ['hello', 0x248bfa47],
    ['key-0', 0xe337f8bf],
    ['key-99999', 0x1bf76975],
    ['user:42', 0xc7a6a375],
    ['é', 0x10110787], // U+00E9, two UTF-8 bytes C3 A9
    ['café', 0x241c0f08],
    ['naïve-ü', 0x768c3c54],
    ['日本語', 0xa5a47297], // three bytes per character
    ['😀', 0xbeb42efa], // a surrogate pair, four bytes F0 9F 98 80
    ['a😀', 0xe325d8b4],
    ['key-😀-é', 0x1d2c43a5],
    ['\uD83D', 0xb69ca6c1], // a lone high surrogate hashes as U+FFFD
    ['x\uDE00y', 0xeb722798], // a lone low surrogate too
  ])('hashes %j to its pinned value', (key, expected) => {
    expect(hashKey(key)).toBe(expected)
  })

  it('hashes a lone surrogate exactly as U+FFFD, like TextEncoder', () => {
    expect(hashKey('\uD83D')).toBe(hashKey('\uFFFD'))
    expect(hashKey('a\uDC00\uD800')).toBe(hashKey('a\uFFFD\uFFFD'))
  })

  it('equals MurmurHash3 of the TextEncoder bytes, for any string of code units', () => {
    // Code points of each UTF-8 length and lone surrogates, at any offset from the 4-unit blocks.
    const piece = fc.oneof(
      fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCodePoint(c)),
      fc.integer({ min: 0x80, max: 0x7ff }).map((c) => String.fromCodePoint(c)),
      fc.integer({ min: 0x800, max: 0xffff }).map((c) => String.fromCharCode(c)), // lone surrogates too
      fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
    )
    const text = fc.array(piece, { maxLength: 30 }).map((pieces) => pieces.join(''))
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 0xffffffff }), (s, seed) => {
        expect(murmur3Utf8(s, seed)).toBe(murmur3Bytes(utf8.encode(s), seed))
        expect(hashKey(s)).toBe(murmur3Bytes(utf8.encode(s), 0))
      }),
      { numRuns: 2_000 },
    )
  })

  it('returns an unsigned 32-bit integer', () => {
    fc.assert(
      fc.property(fc.string(), (key) => {
        const h = hashKey(key)
        expect(h >>> 0).toBe(h)
      }),
    )
  })
})
