/**
 * From a drawn intent to the replicas a fault hits, given who leads now and what the faults
 * under way already impair. The bound that keeps the cluster available:
 *
 *   every fault *claims* the replicas it impairs (the one killed, paused, restarted, isolated
 *   or dropping; the smaller side of a split; one end of a cut link), and no group ever has
 *   more than f replicas claimed. The unclaimed replicas of a group — a majority — are then
 *   all running, and no cut link joins two of them (each cut link has a claimed end).
 *
 * Pure: the nemesis asks, then acts.
 */
import { createRng } from '@kv/consensus'
import { reconnectGraceMs, retransmitSlackMs } from './limits.js'
import type { FaultIntent, FaultKind } from './schedule.js'

export type Link = readonly [string, string]

/** What the nemesis knows when a fault is due. */
export interface ClusterView {
  /** Each group's replica ids. */
  readonly groups: ReadonlyMap<string, readonly string[]>
  /** How many replicas of each group may be impaired at once. */
  readonly f: ReadonlyMap<string, number>
  /** Each group's leader as far as the nemesis could tell (null: none found). */
  readonly leaders: ReadonlyMap<string, string | null>
  /** Replicas the faults under way impair. */
  readonly claimed: ReadonlySet<string>
  /** Faults under way, and the most allowed at once. */
  readonly activeFaults: number
  readonly maxActiveFaults: number
}

export interface FaultPlan {
  readonly intent: FaultIntent
  /** The replica signalled, restarted or isolated; null for `halves` and `link`. */
  readonly target: string | null
  readonly targetIsLeader: boolean
  /** The replicas this fault impairs (see the bound above). */
  readonly claims: readonly string[]
  /** The links to cut, each in both directions (partition faults). */
  readonly links: readonly Link[]
  /** `halves`: the smaller side, then the rest of the group. */
  readonly sides: readonly [readonly string[], readonly string[]] | null
}

export type PlanResult = { readonly plan: FaultPlan } | { readonly skip: string }

const processFaults: ReadonlySet<FaultKind> = new Set(['kill', 'pause', 'restart', 'drops'])

/** Plans `intent`, or says why it cannot run now without breaking the bound. */
export function planFault(intent: FaultIntent, view: ClusterView): PlanResult {
  if (view.activeFaults >= view.maxActiveFaults) return { skip: `${view.activeFaults} faults under way already` }
  const replicas = view.groups.get(intent.group)
  const f = view.f.get(intent.group)
  if (replicas === undefined || f === undefined) return { skip: `no group ${intent.group}` }
  const free = replicas.filter((id) => !view.claimed.has(id))
  const budget = f - (replicas.length - free.length)
  if (budget < 1) return { skip: `${intent.group} has ${f} replica${f === 1 ? '' : 's'} impaired already` }
  const leader = view.leaders.get(intent.group) ?? null
  const freeLeader = leader !== null && free.includes(leader) ? leader : null
  const base = { intent, links: [] as Link[], sides: null }

  if (processFaults.has(intent.kind)) {
    const target = intent.atLeader && freeLeader !== null ? freeLeader : pickOne(free, intent.pick)
    return { plan: { ...base, target, targetIsLeader: target === leader, claims: [target] } }
  }
  switch (intent.kind) {
    case 'isolate': {
      // The leader, whatever `atLeader` says: that is the interesting isolation.
      const target = freeLeader ?? pickOne(free, intent.pick)
      const everyone = [...view.groups.values()].flat()
      const links = everyone.filter((id) => id !== target).map((id) => [target, id] as const)
      return { plan: { ...base, target, targetIsLeader: target === leader, claims: [target], links } }
    }
    case 'halves': {
      const shuffled = shuffle(free, intent.pick)
      const smaller = intent.atLeader && freeLeader !== null ? [freeLeader, ...shuffled.filter((id) => id !== freeLeader)] : shuffled
      const side = smaller.slice(0, budget)
      const rest = replicas.filter((id) => !side.includes(id))
      const links = side.flatMap((a) => rest.map((b) => [a, b] as const))
      return { plan: { ...base, target: null, targetIsLeader: leader !== null && side.includes(leader), claims: side, links, sides: [side, rest] } }
    }
    case 'link': {
      // The claimed end is a free follower; the other end is the leader when aimed at it.
      const followers = free.filter((id) => id !== leader)
      if (followers.length === 0) return { skip: `${intent.group} has no free follower` }
      const a = pickOne(followers, intent.pick)
      const others = replicas.filter((id) => id !== a)
      const b = intent.atLeader && leader !== null && leader !== a ? leader : pickOne(others, (intent.pick * 7919) % 1)
      return { plan: { ...base, target: null, targetIsLeader: b === leader, claims: [a], links: [[a, b]] } }
    }
    case 'kill':
    case 'pause':
    case 'restart':
    case 'drops':
      throw new Error('unreachable: process faults are planned above')
    default:
      return intent.kind satisfies never
  }
}

function pickOne(ids: readonly string[], pick: number): string {
  if (ids.length === 0) throw new Error('pickOne: nothing to pick from')
  return ids[Math.min(ids.length - 1, Math.floor(pick * ids.length))]!
}

/** A shuffle seeded by `pick`: the same intent picks the same side. */
function shuffle(ids: readonly string[], pick: number): string[] {
  const rng = createRng(Math.floor(pick * 2 ** 32))
  const out = [...ids]
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/**
 * Whether the faults under way keep the bound: at most f claimed per group, and every cut
 * link has a claimed end. Null when they do, else what breaks it.
 */
export function boundProblem(groups: ReadonlyMap<string, readonly string[]>, f: ReadonlyMap<string, number>, claimed: ReadonlySet<string>, cut: readonly Link[]): string | null {
  for (const [group, replicas] of groups) {
    const n = replicas.filter((id) => claimed.has(id)).length
    if (n > (f.get(group) ?? 0)) return `${group} has ${n} replicas impaired, more than f=${f.get(group) ?? 0}`
  }
  for (const [a, b] of cut) if (!claimed.has(a) && !claimed.has(b)) return `the cut link ${a}|${b} joins two unimpaired replicas`
  return null
}

/**
 * How long a fault keeps its claims after it is healed, because its replicas are not back at
 * once. A cut link carries nothing until TCP's next retransmission, and the retransmission
 * timeout has doubled all through the cut (200 ms, 400 ms, ...: the next one comes less than
 * the cut's length later); a restarted replica's peers redial with a backoff of up to 2 s
 * (transport-tcp's reconnectMaxDelayMs). A paused replica's connections stay open: its peers'
 * data waits in its socket buffers, so it is back at SIGCONT.
 */
export function rejoinGraceMs(intent: FaultIntent): number {
  switch (intent.kind) {
    case 'isolate':
    case 'halves':
    case 'link':
      return intent.durationMs + retransmitSlackMs
    case 'kill':
    case 'restart':
    case 'drops':
      return reconnectGraceMs
    case 'pause':
      return 0
    default:
      return intent.kind satisfies never
  }
}
