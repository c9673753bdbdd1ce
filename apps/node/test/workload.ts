/**
 * Concurrent client workloads against a `ProcessCluster`, every call recorded for the
 * linearizability checker.
 */
import type { HistoryRecorder } from '@kv/sim'
import { attempt, errorCode, sleep, type ProcessCluster } from './harness.js'

export interface WorkloadOptions {
  clients: number
  /** Keys the clients share. */
  keys: readonly string[]
  /** Most ops per client. */
  opsPerClient: number
  /** Stop issuing new ops after this long. */
  durationMs: number
  /** Each call's deadline. */
  timeoutMs?: number
  /** First client id (so several workloads can share one history). */
  firstClientId?: number
  /** Also stop once this says so. */
  until?: () => boolean
  /** A pause between one client's ops (keeps histories small on a shared machine). */
  pauseMs?: number
}

export interface WorkloadResult {
  ok: number
  failed: number
  errors: Map<string, number>
}

/**
 * `clients` clients, each issuing one op at a time (get 40%, put 35%, append 10%, delete 15%)
 * on the shared keys with unique values, until `opsPerClient` or `durationMs` runs out.
 */
export async function runWorkload(cluster: ProcessCluster, history: HistoryRecorder, o: WorkloadOptions): Promise<WorkloadResult> {
  const result: WorkloadResult = { ok: 0, failed: 0, errors: new Map() }
  const deadline = Date.now() + o.durationMs
  const first = o.firstClientId ?? 0
  await Promise.all(
    Array.from({ length: o.clients }, async (_, i) => {
      const clientId = first + i
      const c = cluster.recordingClient(history, clientId, o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs })
      for (let n = 0; n < o.opsPerClient && Date.now() < deadline && o.until?.() !== true; n++) {
        if (n > 0 && o.pauseMs !== undefined) await sleep(o.pauseMs)
        const key = o.keys[(n * 7 + i * 3) % o.keys.length]!
        const dice = (n * 37 + i * 11) % 20
        const value = `c${clientId}.${n}`
        const p =
          dice < 8 ? c.get(key) : dice < 15 ? c.put(key, value) : dice < 17 ? c.append(key, `+${value}`) : c.delete(key)
        const r = await attempt<unknown>(p)
        if (r.ok) result.ok++
        else {
          result.failed++
          const code = errorCode(r.error)
          result.errors.set(code, (result.errors.get(code) ?? 0) + 1)
        }
      }
    }),
  )
  return result
}
