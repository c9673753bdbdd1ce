/**
 * The kvraft suite, run in the simulator for every protocol from this one file. Each test
 * checks its whole history with the linearizability checker; the append tests also check
 * that each client's appends appear exactly once and in order.
 * A failing test prints its seed; `pnpm sim --protocol P --seed S` replays fuzz seeds.
 */
import { describe, expect, it } from 'vitest'
import { checkLinearizability } from './linearizability/index.js'
import { noFaults, type NemesisOptions } from './nemesis.js'
import { unreliableNetwork } from './network.js'
import { protocols, type Protocol } from './protocols.js'
import { runScenario, scenarioFor } from './run.js'
import { checkAppends, type WorkloadOptions } from './workload.js'
import { SimWorld, type WorldOptions } from './world.js'

const mixed: WorkloadOptions = { kind: 'mixed', keys: 3, opsPerClient: null }
const appends: WorkloadOptions = { kind: 'append', keys: 1, opsPerClient: null }

interface Run {
  clients: number
  load: WorkloadOptions
  durationMs: number
  nemesis?: Partial<NemesisOptions>
  world?: Partial<WorldOptions>
}

/** Runs a workload under faults, then heals everything and checks the history and the replicas. */
function runAndCheck(protocol: Protocol, seed: number, run: Run): SimWorld {
  const w = new SimWorld({ seed, protocol, ...run.world, nemesis: { ...noFaults, ...run.nemesis } })
  w.addClients(run.clients, run.load)
  w.nemesis.start()
  w.runFor(run.durationMs)
  const where = `seed ${seed}, faults: ${w.nemesis.actions.slice(-5).join('; ')}`
  expect(w.quiesce(), `clients finished (${where})`).toBe(true)
  expect(w.converge(), `replicas converged (${where})`).toBe(true)
  for (const c of w.clients) expect(c.unexpected, where).toEqual([])
  const ops = w.history.operations()
  const completed = ops.filter((o) => o.output.type !== 'unknown').length
  expect(completed, `operations completed (${where})`).toBeGreaterThan(run.clients)
  const check = checkLinearizability(ops)
  expect(check.result === 'illegal' ? `${check.result}: ${check.explanation}` : check.result, where).toBe('ok')
  if (run.load.kind === 'append') {
    const value = new TextDecoder().decode(w.nodes[0]!.kv.get('k0') ?? new Uint8Array())
    const acknowledged = ops.flatMap((o) =>
      o.input.op === 'append' && o.output.type === 'ok' ? [{ clientNo: o.clientId, token: o.input.value }] : [],
    )
    expect(checkAppends(value, acknowledged), where).toEqual([])
    expect(acknowledged.length).toBeGreaterThan(0)
  }
  return w
}

describe.each(Object.keys(protocols) as Protocol[])('%s protocol, kvraft suite', (protocol) => {
  it('one client', () => {
    runAndCheck(protocol, 101, { clients: 1, load: mixed, durationMs: 3000 })
  })

  it('many concurrent clients', () => {
    runAndCheck(protocol, 102, { clients: 6, load: mixed, durationMs: 3000 })
  })

  it('unreliable network', () => {
    runAndCheck(protocol, 103, { clients: 5, load: mixed, durationMs: 3000, world: { network: unreliableNetwork } })
  })

  it('concurrent appends to one key over an unreliable network apply exactly once, in order', () => {
    runAndCheck(protocol, 104, { clients: 5, load: appends, durationMs: 3000, world: { network: unreliableNetwork } })
  })

  it('a majority partition makes progress, a minority does not, and the minority completes after heal', () => {
    const w = new SimWorld({
      seed: 105,
      protocol,
      replicas: 5,
      clientTiming: { requestTimeoutMs: 200, opDeadlineMs: 600_000, retryBackoffMs: 15, retryBackoffMaxMs: 200, thinkMs: 2 },
    })
    expect(w.runUntil(() => w.leader() !== null, 5000)).toBe(true)
    const leader = w.leader()!.id
    const others = w.nodes.map((n) => n.id).filter((id) => id !== leader)
    const minority = [leader, others[0]!]
    const majority = others.slice(1)
    // Clients c1 and c2 (added next) stand on either side; both may talk to every replica.
    w.net.partition([[...minority, 'c2'], [...majority, 'c1']])
    const [inMajority] = w.addClients(1, { ...mixed, opsPerClient: 20 })
    const [inMinority] = w.addClients(1, { kind: 'append', keys: 1, opsPerClient: 3 })
    w.runFor(3000)
    expect(inMajority!.completed).toBe(20)
    expect(inMinority!.completed).toBe(0)
    w.net.heal()
    expect(w.runUntil(() => inMinority!.completed === 3, 10_000)).toBe(true)
    expect(checkLinearizability(w.history.operations()).result).toBe('ok')
  })

  it('the leader dies f times (f = 2, five replicas): service continues after each death', () => {
    const w = new SimWorld({ seed: 114, protocol, replicas: 5 })
    w.addClients(4, mixed)
    const killed: string[] = []
    for (let death = 1; death <= 2; death++) {
      expect(w.runUntil(() => w.leader() !== null, 5000), `a leader before death ${death}`).toBe(true)
      const before = w.history.operations().filter((o) => o.output.type !== 'unknown').length
      w.runFor(500)
      const leader = w.leader()!
      leader.crash()
      killed.push(leader.id)
      expect(w.runUntil(() => w.leader() !== null, 5000), `a new leader after death ${death}`).toBe(true)
      w.runFor(1000)
      const after = w.history.operations().filter((o) => o.output.type !== 'unknown').length
      expect(after, `operations completed after death ${death}`).toBeGreaterThan(before + 20)
    }
    expect(new Set(killed).size).toBe(2)
    expect(w.quiesce()).toBe(true)
    expect(checkLinearizability(w.history.operations()).result).toBe('ok')
  })

  it('many partitions, one client', () => {
    runAndCheck(protocol, 106, { clients: 1, load: mixed, durationMs: 4000, nemesis: { partitions: true, intervalMs: 300 } })
  })

  it('many partitions, many clients', () => {
    runAndCheck(protocol, 107, { clients: 5, load: mixed, durationMs: 4000, nemesis: { partitions: true, intervalMs: 300 } })
  })

  it('persistence: all replicas crash and restart, one client', () => {
    const w = runAndCheck(protocol, 108, { clients: 1, load: mixed, durationMs: 4000, nemesis: { crashAll: true, intervalMs: 600 } })
    expect(w.nodes.every((n) => n.crashes > 0)).toBe(true)
  })

  it('persistence: all replicas crash and restart, concurrent clients', () => {
    runAndCheck(protocol, 109, { clients: 5, load: appends, durationMs: 4000, nemesis: { crashAll: true, intervalMs: 600 } })
  })

  it('persistence: crashes and restarts over an unreliable network', () => {
    runAndCheck(protocol, 110, {
      clients: 5,
      load: mixed,
      durationMs: 4000,
      nemesis: { crashAll: true, crashes: true, intervalMs: 500 },
      world: { network: unreliableNetwork },
    })
  })

  it('persistence: crashes, restarts and repartitioning', () => {
    runAndCheck(protocol, 111, {
      clients: 5,
      load: appends,
      durationMs: 4000,
      nemesis: { crashAll: true, crashes: true, partitions: true, intervalMs: 400 },
      world: { network: unreliableNetwork },
    })
  })

  it('snapshots keep the durable log under a bound while thousands of operations run', () => {
    const every = 50
    const w = runAndCheck(protocol, 112, {
      clients: 4,
      load: mixed,
      durationMs: 6000,
      nemesis: { crashes: true, intervalMs: 1500 },
      world: { limits: { snapshotEveryEntries: every } },
    })
    expect(w.history.operations().length).toBeGreaterThan(2000)
    // The bound: 16 KiB, about two snapshot intervals of these small entries, while more
    // than ten times that is written over the run.
    const boundBytes = 16 * 1024
    for (const n of w.nodes) {
      expect(n.disk.maxLogBytes, `${n.id} durable log`).toBeLessThan(boundBytes)
      expect(n.disk.snapshotBytes, `${n.id} has a snapshot`).toBeGreaterThan(0)
    }
    expect(Math.max(...w.nodes.map((n) => n.disk.bytesWritten))).toBeGreaterThan(10 * boundBytes)
  })

  it('speed: operations commit without waiting for heartbeats, and concurrent writes share entries and syncs', () => {
    const w = new SimWorld({ seed: 113, protocol })
    expect(w.runUntil(() => w.leader() !== null, 5000)).toBe(true)
    const [c] = w.addClients(1, { kind: 'append', keys: 1, opsPerClient: 300 })
    const start = w.now
    expect(w.runUntil(() => c!.completed === 300, 60_000)).toBe(true)
    const heartbeatMs = w.options.timing.tickMs * w.options.timing.heartbeatTicks
    // One client, one operation at a time: each must take far less than a heartbeat interval.
    expect((w.now - start) / 300).toBeLessThan(heartbeatMs / 3)

    const many = w.addClients(30, { kind: 'mixed', keys: 20, opsPerClient: 100 })
    const leader = w.leader()!
    const syncsBefore = leader.disk.syncs
    expect(w.runUntil(() => many.every((m) => m.completed === 100), 60_000)).toBe(true)
    const writes = w.history.operations().slice(300).filter((o) => o.input.op !== 'get').length
    expect(leader.disk.syncs - syncsBefore).toBeLessThan(writes / 2)
  })

  it('replays a seed exactly: the same seed gives the same trace digest', () => {
    const a = runScenario(scenarioFor(7, protocol))
    const b = runScenario(scenarioFor(7, protocol))
    expect(a.events).toBeGreaterThan(1000)
    expect(b.trace).toBe(a.trace)
    expect(runScenario(scenarioFor(8, protocol)).trace).not.toBe(a.trace)
  })

  it('fuzz: random fault schedules and workloads stay linearizable', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const r = runScenario(scenarioFor(seed, protocol))
      expect(r.problems, `replay: pnpm sim --protocol ${protocol} --seed ${seed}`).toEqual([])
      expect(r.verdict).toBe('ok')
    }
  })
})
