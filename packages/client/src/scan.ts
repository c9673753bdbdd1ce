import { limits as protocolLimits, prefixEnd, type ScanOp } from '@kv/protocol'
import type { Interpretation } from './call.js'
import { sleep } from './deadline.js'
import { BadRequestError, ProtocolError, TimeoutError, WrongShardError } from './errors.js'
import type { ClientInternals } from './internals.js'
import { checkOp, interpretError } from './ops.js'
import { parseClientResponse } from './response.js'
import { backoffMs } from '@kv/protocol'

/** Which keys a scan reads: those starting with `prefix`, or those in `[start, end)` (either bound may be left out). */
export type ScanRange = { readonly prefix: string } | { readonly start?: string; readonly end?: string }

export interface ScanOptions {
  /** Most keys in the page (default 1000, at most 10,000). */
  readonly limit?: number
  /** Descending key order. */
  readonly reverse?: boolean
  /** Where the previous page ended (its `continuation`). */
  readonly continuation?: string
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
}

export interface ScanPage {
  /** In key order (JavaScript string order; descending with `reverse`). */
  readonly entries: ReadonlyArray<{ readonly key: string; readonly value: Uint8Array }>
  /** Pass it back as `continuation` for the next page; null when this was the last one. */
  readonly continuation: string | null
}

/** One group's part of a page. */
export interface ScanPart {
  readonly entries: ReadonlyArray<readonly [string, Uint8Array]>
  readonly more: boolean
}

const DEFAULT_LIMIT = 1000

/**
 * Merges the groups' parts of one page: the keys in order, up to `limit`, and whether more
 * follow. A group that had more keys than it sent knows nothing past its last one, so the page
 * stops at the first such "last key" of any group: every key up to it is complete.
 */
export function mergeScanParts(parts: readonly ScanPart[], limit: number, reverse: boolean): { entries: Array<readonly [string, Uint8Array]>; more: boolean } {
  const before = (a: string, b: string) => (reverse ? a > b : a < b)
  let cut: string | null = null
  for (const p of parts) {
    if (!p.more) continue
    const last = p.entries[p.entries.length - 1]![0]
    if (cut === null || before(last, cut)) cut = last
  }
  const all = parts.flatMap((p) => p.entries).filter(([k]) => cut === null || !before(cut, k))
  all.sort(([a], [b]) => (before(a, b) ? -1 : before(b, a) ? 1 : 0))
  const entries = all.slice(0, limit)
  return { entries, more: cut !== null || all.length > limit }
}

function encodeContinuation(key: string): string {
  return Buffer.from(JSON.stringify({ after: key }), 'utf8').toString('base64url')
}

function decodeContinuation(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown }
    if (typeof parsed.after === 'string' && parsed.after !== '') return parsed.after
  } catch {
    // fall through: not a token of ours
  }
  throw new BadRequestError('scan: continuation is not one a scan returned')
}

/** The range of the page: the asked range, past the previous page's last key. */
function pageRange(range: ScanRange, options: ScanOptions): { start: string; end: string | null } {
  let start: string
  let end: string | null
  if ('prefix' in range) {
    if (typeof range.prefix !== 'string') throw new BadRequestError('scan: prefix must be a string')
    start = range.prefix
    end = prefixEnd(range.prefix)
  } else {
    if (range.start !== undefined && typeof range.start !== 'string') throw new BadRequestError('scan: start must be a string')
    if (range.end !== undefined && typeof range.end !== 'string') throw new BadRequestError('scan: end must be a string')
    start = range.start ?? ''
    end = range.end ?? null
  }
  if (options.continuation !== undefined) {
    const after = decodeContinuation(options.continuation)
    if (options.reverse === true) end = end === null || after < end ? after : end
    else if (after + '\u0000' > start) start = after + '\u0000'
  }
  return { start, end }
}

/**
 * One page of a range read across every group of the shard map, merged in key order. Each group
 * answers its part after a read barrier (linearizable at its own point in time); the page as a
 * whole is not one atomic snapshot across groups. A group that is at another epoch than the
 * client's map, or still waits for the data of arcs it gained, answers WRONG_SHARD: the client
 * fetches the newest map and asks every group again, until the deadline.
 */
export async function scanPage(ix: ClientInternals, range: ScanRange, options: ScanOptions): Promise<ScanPage> {
  const limit = options.limit ?? DEFAULT_LIMIT
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > protocolLimits.maxScanLimit) {
    throw new BadRequestError(`scan: limit must be an integer from 1 to ${protocolLimits.maxScanLimit}`)
  }
  const reverse = options.reverse === true
  const { start, end } = pageRange(range, options)
  if (end !== null && end <= start) return { entries: [], continuation: null }
  checkOp({ op: 'scan', start, end, limit, reverse, epoch: 0 })
  const timeoutMs = options.timeoutMs ?? ix.limits.defaultTimeoutMs
  const deadline = performance.now() + timeoutMs
  let refresh = false
  // Bounded by the deadline: each round waits a backoff after a WRONG_SHARD.
  for (let round = 0; ; round++) {
    await ix.ensureMap(refresh)
    const epoch = ix.router.epoch
    const op: ScanOp = { op: 'scan', start, end, limit, reverse, epoch }
    const groups = ix.router.shardGroupIds.map((id) => ix.router.groupById(id)!)
    try {
      const parts = await Promise.all(
        groups.map((group) =>
          ix.read<ScanPart>(
            {
              what: `scan of group ${group.id}`,
              group,
              message: () => ({ type: 'kv', clientId: ix.clientId, seq: 0, ackedSeq: ix.wireAckedSeq(), op }),
              interpret: interpretScan,
              tracksLeader: true,
            },
            { timeoutMs: Math.max(1, deadline - performance.now()), signal: options.signal },
          ),
        ),
      )
      const page = mergeScanParts(parts, limit, reverse)
      const last = page.entries[page.entries.length - 1]
      return {
        entries: page.entries.map(([key, value]) => ({ key, value })),
        continuation: page.more && last !== undefined ? encodeContinuation(last[0]) : null,
      }
    } catch (e) {
      if (!(e instanceof WrongShardError)) throw e
      if (performance.now() >= deadline) throw new TimeoutError(`scan timed out after ${timeoutMs} ms: the shard map kept moving`, timeoutMs)
      refresh = true
      const pause = backoffMs(round, { minMs: ix.limits.backoffMinMs, maxMs: ix.limits.backoffMaxMs }, ix.random)
      await sleep(Math.min(pause, deadline - performance.now()), options.signal ?? new AbortController().signal)
    }
  }
}

function interpretScan(raw: unknown): Interpretation<ScanPart> {
  const r = parseClientResponse(raw)
  if ('invalid' in r) return { kind: 'invalid', reason: r.invalid }
  if (r.type === 'result') {
    if (r.result.type !== 'scan') return { kind: 'fail', error: new ProtocolError(`scan answered with a ${r.result.type} result`) }
    return { kind: 'done', value: r.result }
  }
  // The page is asked of every group again under the newest map, not this part alone.
  if (r.code === 'WRONG_SHARD') return { kind: 'fail', error: new WrongShardError(r.message) }
  return interpretError<ScanPart>(r)
}
