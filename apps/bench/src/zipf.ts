/**
 * YCSB's key choosers: the Zipfian generator of Gray et al., "Quickly Generating
 * Billion-Record Synthetic Databases" (SIGMOD '94), as YCSB's `ZipfianGenerator` writes it,
 * and its scrambled form (`ScrambledZipfianGenerator`): the popular items are spread over
 * the key space by a hash instead of sitting at its start. Gray's method is exact for the two
 * most popular ranks and follows a continuous approximation past them (rank 2 comes ~17 %
 * too often at θ = 0.99); YCSB's generator does the same, which is what a YCSB-like mix wants.
 */
import type { Rng } from '@kv/consensus'

/** YCSB's default skew (`zipfian_constant`). */
export const YCSB_ZIPFIAN_THETA = 0.99

/** ζ(n, θ) = Σ_{i=1..n} 1/i^θ. */
export function zeta(n: number, theta: number): number {
  let sum = 0
  for (let i = 1; i <= n; i++) sum += 1 / Math.pow(i, theta)
  return sum
}

/** Item ranks 0..n-1; rank r is drawn with probability (1/(r+1)^θ) / ζ(n, θ). */
export class Zipfian {
  readonly #n: number
  readonly #theta: number
  readonly #alpha: number
  readonly #zetan: number
  readonly #eta: number
  readonly #rng: Rng

  constructor(n: number, rng: Rng, theta = YCSB_ZIPFIAN_THETA) {
    if (!Number.isSafeInteger(n) || n < 2) throw new RangeError(`zipfian: need at least 2 items, not ${n}`)
    if (!(theta > 0 && theta < 1)) throw new RangeError(`zipfian: θ must be in (0, 1), not ${theta}`)
    this.#n = n
    this.#theta = theta
    this.#rng = rng
    this.#alpha = 1 / (1 - theta)
    this.#zetan = zeta(n, theta)
    const zeta2 = zeta(2, theta)
    this.#eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - zeta2 / this.#zetan)
  }

  /** The probability of rank r (for tests and for reading the distribution). */
  probability(rank: number): number {
    return 1 / Math.pow(rank + 1, this.#theta) / this.#zetan
  }

  next(): number {
    const u = this.#rng.next()
    const uz = u * this.#zetan
    if (uz < 1) return 0
    if (uz < 1 + Math.pow(0.5, this.#theta)) return 1
    const rank = Math.floor(this.#n * Math.pow(this.#eta * u - this.#eta + 1, this.#alpha))
    // u < 1 keeps rank below n; the bound guards against rounding at the very top.
    return Math.min(rank, this.#n - 1)
  }
}

/** FNV-1a over the 8 bytes of a 53-bit integer, 32-bit: YCSB scrambles ranks with FNV too. */
export function fnv1a(value: number): number {
  let h = 0x811c9dc5
  let v = value
  for (let i = 0; i < 8; i++) {
    h ^= v & 0xff
    h = Math.imul(h, 0x01000193) >>> 0
    v = Math.floor(v / 256)
  }
  return h
}

/** Zipfian popularity over items 0..n-1, the popular ones scattered by a hash of their rank. */
export class ScrambledZipfian {
  readonly #zipf: Zipfian
  readonly #n: number

  constructor(n: number, rng: Rng, theta = YCSB_ZIPFIAN_THETA) {
    this.#zipf = new Zipfian(n, rng, theta)
    this.#n = n
  }

  next(): number {
    return fnv1a(this.#zipf.next()) % this.#n
  }
}
