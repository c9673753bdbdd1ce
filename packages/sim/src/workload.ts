import type { Rng } from '@kv/consensus'
import type { KvInput } from './linearizability/index.js'

export type WorkloadKind = 'mixed' | 'append'

export interface WorkloadOptions {
  kind: WorkloadKind
  /** Distinct keys the clients touch (mixed) — few keys make many conflicts. */
  keys: number
  /** Operations per client at most; null = until stopped. */
  opsPerClient: number | null
  /** Prefix of every key (default "k"): clients of different groups touch different keys. */
  keyPrefix?: string
  /** The share of gets (default 0.4 in the mixed workload, 0.3 in the append one; 1 makes a reader). */
  readFraction?: number
}

/** Appended tokens look like "c3.17;": client 3's 17th append. Parsed back by `checkAppends`. */
export function appendToken(clientNo: number, n: number): string {
  return `c${clientNo}.${n};`
}

/** A generator of one client's operations; every written value is unique so histories are easy to check. */
export function workload(options: WorkloadOptions, clientNo: number): (rng: Rng) => KvInput | null {
  let issued = 0
  let appends = 0
  const prefix = options.keyPrefix ?? 'k'
  const key = (rng: Rng) => `${prefix}${rng.int(options.keys)}`
  return (rng) => {
    if (options.opsPerClient !== null && issued >= options.opsPerClient) return null
    issued++
    const value = `v${clientNo}.${issued}`
    if (options.kind === 'append') {
      const k = `${prefix}0`
      const appendShare = options.readFraction === undefined ? 0.7 : 1 - options.readFraction
      return rng.chance(appendShare) ? { op: 'append', key: k, value: appendToken(clientNo, ++appends) } : { op: 'get', key: k }
    }
    let p = rng.next()
    const reads = options.readFraction
    if (reads !== undefined) {
      if (p < reads) return { op: 'get', key: key(rng) }
      // The writes share the rest as they do by default (2:2:1:1: put, append, delete, batchPut).
      p = 0.4 + (0.6 * (p - reads)) / (1 - reads)
    }
    if (p < 0.4) return { op: 'get', key: key(rng) }
    if (p < 0.6) return { op: 'put', key: key(rng), value }
    if (p < 0.8) return { op: 'append', key: key(rng), value: `${value};` }
    if (p < 0.9) return { op: 'delete', key: key(rng) }
    const a = key(rng), b = key(rng)
    const entries: Array<[string, string]> = a === b ? [[a, value]] : [[a, value], [b, value]]
    return { op: 'batchPut', entries }
  }
}

/**
 * For the append workload: each client's appends must appear in `value` at most once, in
 * the order issued, and every append acknowledged as done must be there.
 */
export function checkAppends(value: string, acknowledged: ReadonlyArray<{ clientNo: number; token: string }>): string[] {
  const problems: string[] = []
  const tokens = value.split(';').filter((t) => t.length > 0)
  const seen = new Set<string>()
  const lastN = new Map<number, number>()
  for (const t of tokens) {
    if (seen.has(t)) problems.push(`append ${t}; appears twice`)
    seen.add(t)
    const m = /^c(\d+)\.(\d+)$/.exec(t)
    if (m === null) {
      problems.push(`unexpected token ${t}`)
      continue
    }
    const client = Number(m[1]), n = Number(m[2])
    const prev = lastN.get(client) ?? 0
    if (n <= prev) problems.push(`client ${client}'s append ${n} comes after its append ${prev}`)
    lastN.set(client, n)
  }
  for (const a of acknowledged) {
    if (!seen.has(a.token.slice(0, -1))) problems.push(`acknowledged append ${a.token} of client ${a.clientNo} is missing`)
  }
  return problems
}
