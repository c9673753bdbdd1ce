/**
 * What each scenario asks of a system, as YCSB's core workloads do: keys `user<N>` out of
 * `records` preloaded ones, values of a fixed size, and the choice of operation.
 *   write   every call a put of a uniformly chosen key (an overwrite)
 *   read    every call a linearizable get of a uniformly chosen key
 *   mixed   half gets, half puts, keys uniform
 *   ycsb-a  half gets, half puts ("update heavy"), keys Zipfian (θ = 0.99, scrambled)
 */
import type { Rng } from '@kv/consensus'
import type { Scenario } from './result.js'
import { ScrambledZipfian } from './zipf.js'

/** One connection (or client) of a system under test, as the load generator drives it. */
export interface Driver {
  put(key: string, value: Uint8Array): Promise<void>
  /** A linearizable read where the system offers one. */
  get(key: string): Promise<void>
  /** Preloading only (not measured): many keys in one call where the system has one (batchPut, a txn, MSET). */
  putMany?(keys: readonly string[], value: Uint8Array): Promise<void>
}

export type OpKind = 'read' | 'write'

export interface NextOp {
  kind: OpKind
  key: string
}

export const keyOf = (i: number): string => `user${i}`

/** `bytes` printable bytes (so every client, JSON gateway included, carries them as they are). */
export function valueOf(bytes: number, rng: Rng): Uint8Array {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  const v = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) v[i] = alphabet.charCodeAt(rng.int(alphabet.length))
  return v
}

/** The operation chooser of one worker (each worker has its own generator: no shared state). */
export function chooser(scenario: Scenario, records: number, rng: Rng): () => NextOp {
  const uniform = () => keyOf(rng.int(records))
  switch (scenario) {
    case 'write':
      return () => ({ kind: 'write', key: uniform() })
    case 'read':
      return () => ({ kind: 'read', key: uniform() })
    case 'mixed':
      return () => ({ kind: rng.chance(0.5) ? 'read' : 'write', key: uniform() })
    case 'ycsb-a': {
      const zipf = new ScrambledZipfian(records, rng.fork())
      return () => ({ kind: rng.chance(0.5) ? 'read' : 'write', key: keyOf(zipf.next()) })
    }
    default: {
      const never: never = scenario
      throw new Error(`unknown scenario ${String(never)}`)
    }
  }
}
