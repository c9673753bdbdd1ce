/**
 * The soak's clients: each a `@kv/client` with its default deadline and retries, one call at
 * a time, get 40 % / put 25 % / append 10 % / delete 10 % / batchPut 15 % over a small key
 * set, every call recorded into one history.
 */
import { BadRequestError, createClient, type ClusterConfig, type KvClient } from '@kv/client'
import type { Rng } from '@kv/consensus'
import type { HistoryRecorder } from '@kv/sim'
import { attempt, errorCode, recordSpreadBatch, RecordingClient } from '../test/recording.js'
import { keyFamilies, keysPerFamily } from './limits.js'

export interface LoadCounts {
  /** Calls answered. */
  ok: number
  /** Calls known to have changed nothing: failed reads, BAD_REQUEST. */
  failed: number
  /** Writes that failed otherwise (timed out, lost): they may have been applied. */
  unknown: number
  /** Failures by error code. */
  errors: Record<string, number>
}

/** The key set: families of keys, `k<family>.<i>`; a batchPut writes one family. */
export function soakKeys(): string[][] {
  return Array.from({ length: keyFamilies }, (_, f) => Array.from({ length: keysPerFamily }, (_, i) => `k${f}.${i}`))
}

export interface LoadOptions {
  readonly config: ClusterConfig
  readonly clients: number
  readonly history: HistoryRecorder
  /** Draws the ops (one fork per client). */
  readonly rng: Rng
  /**
   * A sharded cluster: a batchPut may span groups (only each group's part is atomic), so it is
   * recorded as one put per key (recordSpreadBatch).
   */
  readonly sharded: boolean
}

export class SoakLoad {
  readonly counts: LoadCounts = { ok: 0, failed: 0, unknown: 0, errors: {} }
  readonly #clients: KvClient[] = []
  readonly #loops: Promise<void>[]
  #stopped = false

  constructor(readonly o: LoadOptions) {
    const families = soakKeys()
    this.#loops = Array.from({ length: o.clients }, (_, i) => this.#loop(i + 1, o.rng.fork(), families))
  }

  /** A client with the library's defaults (deadline, retries), closed by `stop`. */
  client(): KvClient {
    const c = createClient({ config: this.o.config })
    this.#clients.push(c)
    return c
  }

  async #loop(clientId: number, rng: Rng, families: readonly string[][]): Promise<void> {
    const rc = new RecordingClient(this.client(), this.o.history, clientId)
    for (let n = 0; !this.#stopped; n++) {
      const family = families[rng.int(families.length)]!
      const key = family[rng.int(family.length)]!
      const value = `c${clientId}.${n}`
      const dice = rng.int(100)
      const call: Promise<unknown> =
        dice < 40 ? rc.get(key)
          : dice < 65 ? rc.put(key, value)
            : dice < 75 ? rc.append(key, `+${value}`)
              : dice < 85 ? rc.delete(key)
                : this.#batchPut(rc, family.map((k, i) => [k, `${value}/${i}`] as const))
      this.#count(dice < 40, await attempt(call))
    }
  }

  #batchPut(rc: RecordingClient, entries: ReadonlyArray<readonly [string, string]>): Promise<void> {
    return this.o.sharded ? recordSpreadBatch(rc, entries) : rc.batchPut(entries)
  }

  #count(read: boolean, r: { ok: true } | { ok: false; error: unknown }): void {
    if (r.ok) {
      this.counts.ok++
      return
    }
    const code = errorCode(r.error)
    this.counts.errors[code] = (this.counts.errors[code] ?? 0) + 1
    // As the recording client records it: a failed write is unknown unless refused outright.
    if (read || r.error instanceof BadRequestError) this.counts.failed++
    else this.counts.unknown++
  }

  /** Stops issuing calls, waits for the calls in flight (each within its deadline), closes the clients. */
  async stop(): Promise<void> {
    this.#stopped = true
    await Promise.all(this.#loops)
    await Promise.all(this.#clients.map((c) => c.close()))
  }

  /** Reads every key once (recorded), after the load has stopped: an acknowledged write lost at the end shows here. */
  static async readAll(config: ClusterConfig, history: HistoryRecorder, clientId: number): Promise<{ ok: number; failed: number }> {
    const client = createClient({ config })
    const rc = new RecordingClient(client, history, clientId)
    let ok = 0
    let failed = 0
    try {
      for (const key of soakKeys().flat()) {
        if ((await attempt(rc.get(key))).ok) ok++
        else failed++
      }
    } finally {
      await client.close()
    }
    return { ok, failed }
  }
}
