import type { ServerProcess } from '../cpu.js'
import type { SystemInfo } from '../result.js'
import type { Driver } from '../workload.js'

/** A running system under test, as the bench drives and measures it. */
export interface RunningSystem {
  readonly info: SystemInfo
  /** `n` independent connections (or clients), each pipelining the calls given to it. */
  connect(n: number): Promise<Connections>
  /** The server processes, for CPU readings. */
  processes(): ServerProcess[]
  /** Each process's role now (leader, follower, ...), by name. */
  roles(): Promise<Map<string, string>>
  stop(): Promise<void>
}

export interface Connections {
  readonly drivers: readonly Driver[]
  close(): Promise<void>
}

/** Polls `probe` until it returns true; throws `what` after `timeoutMs`. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: unknown = null
  while (Date.now() < deadline) {
    try {
      if (await probe()) return
    } catch (e) {
      last = e
    }
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === null ? '' : ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})`}`)
}
