/**
 * The nemesis schedule: which fault starts when, for how long, in which group, drawn from a
 * seeded PRNG before the run. Who leads is only known while the run goes on, so an intent
 * names a group and whether to aim at its leader; plan.ts turns it into targets then.
 */
import type { Rng } from '@kv/consensus'
import { dropRates, faultGapMaxMs, faultGapMinMs, faultMaxMs, faultMinMs } from './limits.js'

/**
 * - `kill`: SIGKILL, started again after the fault's duration;
 * - `pause`: SIGSTOP, SIGCONT after the duration;
 * - `restart`: SIGTERM (a clean shutdown), started again after the duration;
 * - `isolate`: the group's leader cut off (iptables) from every other replica of the cluster;
 * - `halves`: the group split in two, the smaller side of at most f replicas;
 * - `link`: one link between two replicas of the group cut;
 * - `drops`: a replica restarted with `--drop-rate` (it loses that share of its outgoing
 *   messages), restarted without at the end.
 */
export const faultKinds = ['kill', 'pause', 'restart', 'isolate', 'halves', 'link', 'drops'] as const
export type FaultKind = (typeof faultKinds)[number]

/** One fault as drawn. */
export interface FaultIntent {
  /** Its start, from the start of the fault phase. */
  readonly atMs: number
  readonly kind: FaultKind
  readonly durationMs: number
  readonly group: string
  /** Aim at the group's leader (when one is known and free); otherwise `pick` chooses. */
  readonly atLeader: boolean
  /** A float in [0, 1) that picks among the free replicas (the side, the link's other end). */
  readonly pick: number
  /** For `drops`: the drop probability. */
  readonly dropRate: number
}

export interface ScheduleOptions {
  /** Faults start and heal within [0, phaseMs). */
  readonly phaseMs: number
  /** The groups faults may hit (every group, the controller's and a spare's too). */
  readonly groups: readonly string[]
  readonly kinds?: readonly FaultKind[]
  readonly gapMinMs?: number
  readonly gapMaxMs?: number
  readonly minMs?: number
  readonly maxMs?: number
}

/**
 * Draws intents until the phase is over: each starts gapMin..gapMax after the one before and
 * lasts min..max, cut short so that it heals within the phase (never below min: an intent
 * that would not fit is not drawn). The same rng state gives the same schedule.
 */
export function drawSchedule(rng: Rng, o: ScheduleOptions): FaultIntent[] {
  const kinds = o.kinds ?? faultKinds
  const gapMin = o.gapMinMs ?? faultGapMinMs
  const gapMax = o.gapMaxMs ?? faultGapMaxMs
  const min = o.minMs ?? faultMinMs
  const max = o.maxMs ?? faultMaxMs
  if (kinds.length === 0 || o.groups.length === 0) throw new RangeError('a schedule needs at least one fault kind and one group')
  if (!(gapMin > 0 && gapMax >= gapMin && min > 0 && max >= min)) throw new RangeError('need 0 < gapMin ≤ gapMax and 0 < min ≤ max')
  const intents: FaultIntent[] = []
  let at = 0
  // Bounded by the phase: every step moves `at` on by gapMin at least.
  for (;;) {
    at += Math.round(gapMin + rng.next() * (gapMax - gapMin))
    if (at + min > o.phaseMs) return intents
    const kind = kinds[rng.int(kinds.length)]!
    const durationMs = Math.min(Math.round(min + rng.next() * (max - min)), o.phaseMs - at)
    const group = o.groups[rng.int(o.groups.length)]!
    const atLeader = rng.chance(0.5)
    const pick = rng.next()
    const dropRate = dropRates[rng.int(dropRates.length)]!
    intents.push({ atMs: at, kind, durationMs, group, atLeader, pick, dropRate })
  }
}
