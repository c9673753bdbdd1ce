import { assert, type Entry } from '@kv/consensus'
import { sameValue } from './log.js'

/** One acceptor's phase-1b answer, as the new leader uses it. */
export interface PromiseReport {
  /** The acceptor's chosen watermark: its slots at or below it hold chosen values. */
  readonly commitIndex: number
  /** Its accepted (ballot, value) per slot, for slots above the candidate's watermark. */
  readonly accepted: readonly Entry[]
}

/**
 * The slots a new leader must re-propose before anything new ("Paxos Made Simple" §2.2,
 * phase 2a; "Paxos Made Moderately Complex" §3, the `pmax` of a scout's pvalues):
 *
 * - a slot some acceptor of the quorum accepted gets the value of the HIGHEST ballot
 *   reported for it: if any value was chosen there, it is that one, since a quorum that
 *   chose it intersects this quorum, and every proposal after it carried it too;
 * - a slot an acceptor already knows chosen (at or below its watermark) gets that value;
 *   learning may have rewritten the acceptor's ballot for it, so its ballot is not compared;
 * - a slot below the highest reported slot that nobody reported (a hole) cannot have been
 *   chosen (a chosen slot is held by a majority), so it is filled with a noop: the log
 *   must have no gap, or nothing above the hole could ever execute.
 *
 * Returns entries for every slot in `watermark+1 ..` the highest reported slot, each
 * proposed at `ballot`.
 */
export function planRecovery(watermark: number, reports: readonly PromiseReport[], ballot: number): Entry[] {
  const best = new Map<number, { entry: Entry; chosen: boolean }>()
  let highest = watermark
  for (const report of reports) {
    for (const entry of report.accepted) {
      if (entry.index <= watermark) continue
      highest = Math.max(highest, entry.index)
      const chosen = entry.index <= report.commitIndex
      const current = best.get(entry.index)
      if (current?.chosen === true) {
        if (chosen) assert(sameValue(current.entry, entry), () => `two chosen values at slot ${entry.index}`)
        continue
      }
      if (current === undefined || chosen || entry.term > current.entry.term) {
        best.set(entry.index, { entry, chosen })
      }
    }
  }
  const plan: Entry[] = []
  for (let slot = watermark + 1; slot <= highest; slot++) {
    plan.push(reproposal(best.get(slot)?.entry, slot, ballot))
  }
  return plan
}

/** The value of `found` (none: a no-op) proposed again in `slot` at `ballot`. */
function reproposal(found: Entry | undefined, slot: number, ballot: number): Entry {
  if (found === undefined || found.type === 'noop') return { type: 'noop', index: slot, term: ballot }
  // A membership change keeps its change and resulting membership: it is the same value.
  if (found.type === 'membership') return { ...found, index: slot, term: ballot }
  return { type: 'normal', index: slot, term: ballot, data: found.data }
}
