import type { ShardMap } from '@kv/protocol'
import type { CallPlan } from './call.js'
import type { ClientLimits } from './limits.js'
import type { Logger } from './logger.js'
import type { Router } from './router.js'

/** What the range reads and watches (scan.ts, watch.ts) use of a client. */
export interface ClientInternals {
  readonly router: Router
  readonly limits: ClientLimits
  readonly logger: Logger
  readonly random: () => number
  readonly clientId: string
  /** The session's watermark, as every request carries it. */
  wireAckedSeq(): number
  /** Fetches the shard map when routing needs one (`refresh`: the newest, after WRONG_SHARD). */
  ensureMap(refresh: boolean): Promise<void>
  /** The controller's map of `epoch` (null: none; or no controller). */
  mapAt(epoch: number): Promise<ShardMap | null>
  /**
   * One read call: admitted like any call, retried over the group's replicas. `holdMs`: the
   * replica may hold it that long (a watch poll), so each attempt waits that much longer.
   */
  read<T>(plan: CallPlan<T>, options: { readonly timeoutMs: number; readonly signal?: AbortSignal | undefined; readonly holdMs?: number }): Promise<T>
}
