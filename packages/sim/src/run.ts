import { createRng } from '@kv/consensus'
import { checkLinearizability, type CheckOptions, type CheckResult } from './linearizability/index.js'
import { noFaults, type NemesisOptions } from './nemesis.js'
import { reliableNetwork, unreliableNetwork } from './network.js'
import type { Protocol } from './protocols.js'
import { appendToken, checkAppends, type WorkloadOptions } from './workload.js'
import { SimWorld } from './world.js'

/** A fuzz run's shape, all drawn from its seed. */
export interface Scenario {
  seed: number
  protocol: Protocol
  replicas: number
  clients: number
  unreliable: boolean
  nemesis: NemesisOptions
  snapshotEveryEntries: number
  durationMs: number
  workload: WorkloadOptions
}

export interface RunResult {
  scenario: Scenario
  verdict: 'ok' | 'failed' | 'unknown'
  problems: string[]
  check: CheckResult | null
  trace: string
  events: number
  operations: number
  simulatedMs: number
  faults: string[]
}

export function scenarioFor(seed: number, protocol: Protocol): Scenario {
  const r = createRng(seed ^ 0x5eed)
  const nemesis: NemesisOptions = {
    ...noFaults,
    partitions: r.chance(0.6),
    crashes: r.chance(0.6),
    crashAll: r.chance(0.2),
    flakyNetwork: r.chance(0.3),
    intervalMs: 200 + r.int(800),
  }
  return {
    seed,
    protocol,
    replicas: r.chance(0.7) ? 3 : 5,
    clients: 1 + r.int(6),
    unreliable: r.chance(0.4),
    nemesis,
    snapshotEveryEntries: [0, 20, 100][r.int(3)]!,
    durationMs: 1500 + r.int(2500),
    workload: { kind: r.chance(0.3) ? 'append' : 'mixed', keys: 1 + r.int(5), opsPerClient: null },
  }
}

/**
 * Runs one scenario to the end and checks everything it can. Never throws for a bug found: it
 * reports it. `options.maxSearchSteps` bounds the linearizability check (default: the checker's).
 */
export function runScenario(s: Scenario, options: CheckOptions = {}): RunResult {
  const world = new SimWorld({
    seed: s.seed,
    protocol: s.protocol,
    replicas: s.replicas,
    network: s.unreliable ? unreliableNetwork : reliableNetwork,
    nemesis: s.nemesis,
    limits: { snapshotEveryEntries: s.snapshotEveryEntries },
  })
  const problems: string[] = []
  let check: CheckResult | null = null
  try {
    world.addClients(s.clients, s.workload)
    world.nemesis.start()
    world.runFor(s.durationMs)
    if (!world.quiesce()) problems.push('liveness: clients did not finish after the faults stopped')
    if (!world.converge()) problems.push('liveness: replicas did not converge after the faults stopped')
    for (const c of world.clients) problems.push(...c.unexpected)
    if (s.workload.kind === 'append') problems.push(...appendProblems(world))
    check = checkLinearizability(world.history.operations(), options)
    if (check.result === 'illegal') problems.push(`not linearizable (key ${check.key}): ${check.explanation}`)
  } catch (e) {
    problems.push(`crashed at ${world.now.toFixed(1)}ms: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
  }
  const verdict = problems.length > 0 ? 'failed' : check?.result === 'unknown' ? 'unknown' : 'ok'
  return {
    scenario: s,
    verdict,
    problems,
    check,
    trace: world.trace.digest(),
    events: world.trace.events,
    operations: world.history.operations().length,
    simulatedMs: world.now,
    faults: world.nemesis.actions,
  }
}

function appendProblems(world: SimWorld): string[] {
  // The replica that serves k0 now (in a sharded world, one of the group that owns it).
  const node = world.shardGroups.flatMap((g) => g.nodes).find((n) => n.alive && n.kv.serves('k0'))
  if (node === undefined) return ['no live replica serves the appended key']
  const raw = node.kv.get('k0')
  const value = raw === null ? '' : new TextDecoder().decode(raw)
  const acknowledged = world.history
    .operations()
    .filter((op) => op.input.op === 'append' && op.output.type === 'ok')
    .map((op) => ({ clientNo: op.clientId, token: op.input.op === 'append' ? op.input.value : '' }))
  return checkAppends(value, acknowledged)
}

export { appendToken }
