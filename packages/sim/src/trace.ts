/**
 * A running digest of everything that happens in a run (two 32-bit FNV-style lanes).
 * Two runs of one seed must end with the same digest; a difference means something outside
 * the seed (a clock, Math.random, iteration over an unordered structure) leaked in.
 */
export class Trace {
  private h1 = 0x811c9dc5
  private h2 = 0x9747b28c
  events = 0

  mix(n: number): void {
    this.h1 = Math.imul(this.h1 ^ (n | 0), 0x01000193) >>> 0
    this.h2 = Math.imul(this.h2 ^ ((n / 4294967296) | 0) ^ (n | 0), 0x5bd1e995) >>> 0
  }

  mixString(s: string): void {
    for (let i = 0; i < s.length; i++) this.mix(s.charCodeAt(i))
  }

  event(kind: number, ...fields: number[]): void {
    this.events++
    this.mix(kind)
    for (const f of fields) this.mix(f)
  }

  digest(): string {
    return this.h1.toString(16).padStart(8, '0') + this.h2.toString(16).padStart(8, '0')
  }
}

/** A stable small number for a string (message types, node ids) to feed the trace. */
export function code(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0
  return h
}
