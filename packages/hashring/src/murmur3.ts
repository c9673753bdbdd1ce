/**
 * MurmurHash3, x86 32-bit variant (Austin Appleby, SMHasher `MurmurHash3_x86_32`), over the
 * UTF-8 bytes of a string. Chosen because it is fast in JavaScript (32-bit multiplies only,
 * via `Math.imul`), passes SMHasher, and exists bit-for-bit in every language: Python
 * `mmh3.hash(s, seed, signed=False)`, Go `github.com/spaolacci/murmur3.Sum32WithSeed`, Java
 * Guava `Hashing.murmur3_32_fixed(seed)`, C `MurmurHash3_x86_32`.
 *
 * A string is hashed as its UTF-8 encoding per the WHATWG Encoding Standard (what
 * `TextEncoder` produces): a lone surrogate code unit is encoded as U+FFFD (EF BF BD). The
 * bytes are produced on the fly from the UTF-16 code units, so hashing allocates nothing.
 */

const C1 = 0xcc9e2d51
const C2 = 0x1b873593

/** One 4-byte block (little-endian) into the running state. */
function mixBlock(h: number, block: number): number {
  let k = Math.imul(block, C1)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, C2)
  h ^= k
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

/** The 0..3 trailing bytes (`tail`, little-endian), the length, and the final avalanche. */
function finish(h: number, tail: number, tailBytes: number, byteLength: number): number {
  if (tailBytes > 0) {
    let k = Math.imul(tail, C1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, C2)
    h ^= k
  }
  h ^= byteLength
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** MurmurHash3_x86_32 of `bytes` with `seed`: the reference the string path must agree with. */
export function murmur3Bytes(bytes: Uint8Array, seed: number): number {
  let h = seed | 0
  const n = bytes.length
  const blocksEnd = n - (n & 3)
  let i = 0
  for (; i < blocksEnd; i += 4) {
    h = mixBlock(h, bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))
  }
  let tail = 0
  for (let shift = 0; i < n; i++, shift += 8) tail |= bytes[i]! << shift
  return finish(h, tail, n & 3, n)
}

/**
 * MurmurHash3_x86_32 with `seed` of the UTF-8 encoding of `text` (lone surrogates as U+FFFD),
 * computed from the code units without building the bytes. Kept small for the common case, an
 * ASCII key: four code units below 0x80 are one block as they stand. At the first other code
 * unit it hands over to `murmur3Utf8From`.
 */
export function murmur3Utf8(text: string, seed: number): number {
  let h = seed | 0
  const n = text.length
  let i = 0
  for (; i + 4 <= n; i += 4) {
    const c0 = text.charCodeAt(i)
    const c1 = text.charCodeAt(i + 1)
    const c2 = text.charCodeAt(i + 2)
    const c3 = text.charCodeAt(i + 3)
    if ((c0 | c1 | c2 | c3) >= 0x80) return murmur3Utf8From(text, i, h)
    h = mixBlock(h, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24))
  }
  const rest = n - i
  if (rest === 0) return finish(h, 0, 0, n)
  const c0 = text.charCodeAt(i)
  const c1 = rest > 1 ? text.charCodeAt(i + 1) : 0
  const c2 = rest > 2 ? text.charCodeAt(i + 2) : 0
  if ((c0 | c1 | c2) >= 0x80) return murmur3Utf8From(text, i, h)
  return finish(h, c0 | (c1 << 8) | (c2 << 16), rest, n)
}

/**
 * The general path: goes on from code unit `start`, all units before it ASCII (so `start`
 * bytes hashed, in whole blocks, into `h`), producing each code point's UTF-8 bytes.
 */
function murmur3Utf8From(text: string, start: number, h: number): number {
  const n = text.length
  let byteLength = start
  // The partial block: `tailBytes` (0..3) bytes packed little-endian in `tail`.
  let tail = 0
  let tailBytes = 0
  for (let i = start; i < n; i++) {
    if (tailBytes === 0) {
      // Aligned on a block again (after an accent, say): back to four ASCII units at a time.
      for (; i + 4 <= n; i += 4) {
        const c0 = text.charCodeAt(i)
        const c1 = text.charCodeAt(i + 1)
        const c2 = text.charCodeAt(i + 2)
        const c3 = text.charCodeAt(i + 3)
        if ((c0 | c1 | c2 | c3) >= 0x80) break
        h = mixBlock(h, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24))
        byteLength += 4
      }
      if (i === n) break
    }
    // One code point: its `count` UTF-8 bytes packed little-endian in `utf8`.
    let c = text.charCodeAt(i)
    let utf8: number
    let count: number
    if (c < 0x80) {
      utf8 = c
      count = 1
    } else if (c < 0x800) {
      utf8 = (0xc0 | (c >>> 6)) | ((0x80 | (c & 0x3f)) << 8)
      count = 2
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? text.charCodeAt(i + 1) : 0
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          i++
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00)
        } else {
          c = 0xfffd // a lone surrogate, as TextEncoder encodes it
        }
      }
      if (c < 0x10000) {
        utf8 = (0xe0 | (c >>> 12)) | ((0x80 | ((c >>> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16)
        count = 3
      } else {
        utf8 =
          (0xf0 | (c >>> 18)) |
          ((0x80 | ((c >>> 12) & 0x3f)) << 8) |
          ((0x80 | ((c >>> 6) & 0x3f)) << 16) |
          ((0x80 | (c & 0x3f)) << 24)
        count = 4
      }
    }
    byteLength += count
    tail |= utf8 << (tailBytes << 3)
    const room = 4 - tailBytes
    if (count < room) {
      tailBytes += count
    } else {
      h = mixBlock(h, tail)
      // `>>> 32` would be `>>> 0` in JavaScript, hence the explicit case of a full block.
      tail = room === 4 ? 0 : utf8 >>> (room << 3)
      tailBytes = count - room
    }
  }
  return finish(h, tail, tailBytes, byteLength)
}

/**
 * The ring position of a key: MurmurHash3_x86_32 with seed 0 of the key's UTF-8 bytes, as an
 * unsigned 32-bit integer. Deterministic across processes, platforms and languages (see the
 * package README for the exact definition); the hot path of every lookup, and allocation-free.
 */
export function hashKey(key: string): number {
  return murmur3Utf8(key, 0)
}
