/**
 * The nemesis: plays a drawn schedule against a running `ProcessCluster` — signals, restarts,
 * iptables cuts — one live line per step, within the bound of plan.ts. Also a monitor that
 * notices a replica exiting on its own (a crash is a finding, not a fault).
 */
import type { KvClient } from '@kv/client'
import type { ClusterLinks } from '../test/firewall.js'
import type { ProcessCluster } from '../test/harness.js'
import type { FaultSpan } from './gaps.js'
import { leaderProbeTimeoutMs, monitorEveryMs, serveTimeoutMs } from './limits.js'
import { boundProblem, planFault, rejoinGraceMs, type FaultPlan, type Link } from './plan.js'
import type { FaultIntent } from './schedule.js'

export interface NemesisOptions {
  readonly cluster: ProcessCluster
  readonly links: ClusterLinks
  /** Status probes (short deadlines). */
  readonly probe: KvClient
  /** Each group's replicas and f. */
  readonly groups: ReadonlyMap<string, readonly string[]>
  readonly f: ReadonlyMap<string, number>
  readonly maxActiveFaults: number
  /** Prints one line (the time in front is added here). */
  readonly log: (line: string) => void
  /** The run's clock: ms since the run began. */
  readonly now: () => number
}

export interface Skipped {
  readonly intent: FaultIntent
  readonly reason: string
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)))
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`

export class Nemesis {
  /** Faults as they happened (times on the run's clock). */
  readonly spans: FaultSpan[] = []
  readonly skipped: Skipped[] = []
  /** What went wrong outside the schedule: a replica exiting on its own, a SIGTERM not obeyed. */
  readonly anomalies: string[] = []
  readonly #o: NemesisOptions
  readonly #claimed = new Set<string>()
  readonly #cuts = new Map<number, readonly Link[]>()
  /** Replicas the nemesis has stopped or is restarting: the monitor leaves them alone. */
  readonly #expectedDown = new Set<string>()
  readonly #running = new Set<Promise<void>>()
  #nextFault = 0
  #monitor: NodeJS.Timeout | null = null

  constructor(o: NemesisOptions) {
    this.#o = o
  }

  #log(line: string): void {
    this.#o.log(`t=${seconds(this.#o.now())} ${line}`)
  }

  /** Plays `schedule` (intent times from `phaseStartMs` on the run's clock); resolves when every fault has healed. */
  async play(schedule: readonly FaultIntent[], phaseStartMs: number): Promise<void> {
    for (const intent of schedule) {
      await sleep(phaseStartMs + intent.atMs - this.#o.now())
      // The fault counts as begun from here, before the leader probe: a gap it causes begins
      // with the last write acknowledged before the signal or the cut, which may come after this.
      const dueMs = this.#o.now()
      const leaders = new Map([[intent.group, await this.leaderOf(intent.group)]])
      const result = planFault(intent, {
        groups: this.#o.groups, f: this.#o.f, leaders, claimed: this.#claimed, activeFaults: this.#running.size, maxActiveFaults: this.#o.maxActiveFaults,
      })
      if ('skip' in result) {
        this.skipped.push({ intent, reason: result.skip })
        continue
      }
      this.#start(result.plan, dueMs)
    }
    await Promise.all([...this.#running])
  }

  #start(plan: FaultPlan, dueMs: number): void {
    for (const id of plan.claims) this.#claimed.add(id)
    const id = this.#nextFault++
    if (plan.links.length > 0) this.#cuts.set(id, plan.links)
    const problem = boundProblem(this.#o.groups, this.#o.f, this.#claimed, [...this.#cuts.values()].flat())
    if (problem !== null) throw new Error(`nemesis bug: ${problem}`)
    const task = this.#run(id, plan, dueMs).finally(() => {
      for (const c of plan.claims) this.#claimed.delete(c)
      this.#running.delete(task)
    })
    this.#running.add(task)
  }

  async #run(id: number, plan: FaultPlan, start: number): Promise<void> {
    const { kind, durationMs, dropRate } = plan.intent
    const who = plan.target === null ? '' : `${plan.target}${plan.targetIsLeader ? ' (leader)' : ''}`
    const { cluster } = this.#o
    // Healed, the fault keeps its claims a little longer: its replicas are not back at once.
    const graceMs = rejoinGraceMs(plan.intent)
    const grace = graceMs === 0 ? '' : ` (impaired ${seconds(graceMs)} more: ${kind === 'kill' || kind === 'restart' || kind === 'drops' ? 'peers redial' : 'TCP retransmission backoff'})`
    try {
      switch (kind) {
        case 'kill':
          this.#expectedDown.add(plan.target!)
          await cluster.kill(plan.target!, 'SIGKILL')
          this.#log(`SIGKILL ${who}, restart in ${seconds(durationMs)}`)
          await sleep(durationMs)
          this.#startAgain(plan.target!)
          this.#log(`restarted ${plan.target}${grace}`)
          break
        case 'restart':
          await this.#stopCleanly(plan.target!)
          this.#log(`SIGTERM ${who}, restart in ${seconds(durationMs)}`)
          await sleep(durationMs)
          this.#startAgain(plan.target!)
          this.#log(`restarted ${plan.target}${grace}`)
          break
        case 'pause':
          await cluster.kill(plan.target!, 'SIGSTOP')
          this.#log(`SIGSTOP ${who} for ${seconds(durationMs)}`)
          await sleep(durationMs)
          await cluster.kill(plan.target!, 'SIGCONT')
          this.#log(`SIGCONT ${plan.target}`)
          break
        case 'drops':
          await this.#stopCleanly(plan.target!)
          this.#startAgain(plan.target!, ['--drop-rate', String(dropRate)])
          this.#log(`drops: ${who} restarted with --drop-rate ${dropRate} for ${seconds(durationMs)}`)
          await sleep(durationMs)
          await this.#stopCleanly(plan.target!)
          this.#startAgain(plan.target!)
          this.#log(`drops over: ${plan.target} restarted without --drop-rate${grace}`)
          break
        case 'isolate':
        case 'halves':
        case 'link':
          this.#applyCuts()
          this.#log(`partition: ${describeCut(plan, who)} for ${seconds(durationMs)}`)
          await sleep(durationMs)
          this.#cuts.delete(id)
          this.#applyCuts()
          this.#log(`healed ${describeCut(plan, who)}${grace}`)
          break
        default:
          return kind satisfies never
      }
      await sleep(graceMs)
    } catch (e) {
      this.anomalies.push(`t=${seconds(this.#o.now())} ${kind} of ${who || plan.claims.join(',')} failed: ${e instanceof Error ? e.message : String(e)}`)
      this.#cuts.delete(id)
    } finally {
      this.spans.push({ kind, startMs: start, endMs: this.#o.now() })
    }
  }

  /**
   * SIGTERM, and the exit it should bring (code 0, within the harness's 10 s). Only once the
   * replica serves: `kv node` installs its SIGTERM handler when it has started (storage opened,
   * listening), so a SIGTERM during its start ends it by the signal (exit 143) — see README.md,
   * "Found". A restart fault is about stopping a serving replica.
   */
  async #stopCleanly(id: string): Promise<void> {
    await this.#waitUntilServing(id)
    this.#expectedDown.add(id)
    await this.#o.cluster.kill(id, 'SIGTERM')
    const status = this.#o.cluster.exitStatus(id)
    if (status !== null && status.code !== 0) {
      this.anomalies.push(`t=${seconds(this.#o.now())} ${id} ended by SIGTERM with ${status.signal ?? `code ${status.code}`} (expected a clean exit, code 0)`)
    }
  }

  /** Until the replica answers a status call (bounded; a replica that never does is SIGTERMed anyway). */
  async #waitUntilServing(id: string): Promise<void> {
    const deadline = this.#o.now() + serveTimeoutMs
    while (this.#o.now() < deadline && this.#o.cluster.isRunning(id)) {
      if ((await this.#o.cluster.status(id, this.#o.probe, leaderProbeTimeoutMs)) !== null) return
      await sleep(100)
    }
  }

  #startAgain(id: string, flags: readonly string[] = []): void {
    this.#o.cluster.startNode(id, flags)
    this.#expectedDown.delete(id)
  }

  #applyCuts(): void {
    const seen = new Set<string>()
    const links: Link[] = []
    for (const [a, b] of [...this.#cuts.values()].flat()) {
      const k = a < b ? `${a}|${b}` : `${b}|${a}`
      if (seen.has(k)) continue
      seen.add(k)
      links.push([a, b])
    }
    this.#o.links.cut(links)
  }

  /** The group's leader: the replica (running, not impaired) that says it leads, in the highest term. */
  async leaderOf(group: string): Promise<string | null> {
    const { cluster, probe } = this.#o
    const ids = (this.#o.groups.get(group) ?? []).filter((id) => cluster.isRunning(id) && !this.#claimed.has(id))
    const rows = await Promise.all(ids.map((id) => cluster.status(id, probe, leaderProbeTimeoutMs)))
    let best: { id: string; term: number } | null = null
    for (const r of rows) if (r !== null && r.role === 'leader' && (best === null || r.term > best.term)) best = { id: r.replicaId, term: r.term }
    return best?.id ?? null
  }

  /** Watches for replicas that exit on their own; each is reported once and started again. */
  startMonitor(): void {
    this.#monitor = setInterval(() => {
      for (const id of this.#o.cluster.ids) {
        if (this.#o.cluster.isRunning(id) || this.#expectedDown.has(id)) continue
        const status = this.#o.cluster.exitStatus(id)
        const how = status === null ? 'never started' : status.signal ?? `code ${status.code}`
        this.anomalies.push(`t=${seconds(this.#o.now())} ${id} exited on its own (${how}); its log ends:\n${this.#o.cluster.logTail(id, 15)}`)
        this.#log(`!! ${id} exited on its own (${how}): started again`)
        try {
          this.#o.cluster.startNode(id)
        } catch (e) {
          this.anomalies.push(`could not start ${id} again: ${e instanceof Error ? e.message : String(e)}`)
        }
      }
    }, monitorEveryMs)
  }

  stopMonitor(): void {
    if (this.#monitor !== null) clearInterval(this.#monitor)
    this.#monitor = null
  }

  /** A safety net after the schedule: every link healed, every replica running and unpaused. */
  async healAll(): Promise<void> {
    await Promise.all([...this.#running])
    this.#cuts.clear()
    this.#o.links.heal()
    for (const id of this.#o.cluster.ids) {
      if (!this.#o.cluster.isRunning(id)) this.#startAgain(id)
      else await this.#o.cluster.kill(id, 'SIGCONT')
    }
  }
}

function describeCut(plan: FaultPlan, who: string): string {
  if (plan.intent.kind === 'isolate') return `${who} isolated from every other replica`
  if (plan.intent.kind === 'halves') {
    return `${plan.intent.group} split ${plan.sides![0].join(',')} | ${plan.sides![1].join(',')}${plan.targetIsLeader ? ' (leader on the smaller side)' : ''}`
  }
  return `link ${plan.links[0]![0]}|${plan.links[0]![1]}${plan.targetIsLeader ? ' (to the leader)' : ''} cut`
}
