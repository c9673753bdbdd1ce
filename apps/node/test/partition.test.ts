/**
 * Network partitions between real replica processes: each replica has its own loopback
 * address (127.0.<hostGroup>.<r>, one hostGroup per test) and iptables drops the packets of
 * the links a test cuts (firewall.ts). Clients dial from 127.0.0.1 and reach every replica.
 * A test fails, not skips, when iptables is not usable. Ports 22000–22054, host groups 41–46.
 */
import type { KvClient, ReplicaStatus } from '@kv/client'
import { HistoryRecorder } from '@kv/sim'
import { afterAll, describe, expect, it, type TestContext } from 'vitest'
import { Firewall, type ClusterLinks, type Link } from './firewall.js'
import { attempt, expectLinearizable, sleep, startCluster, waitFor, type ClusterOptions, type ProcessCluster, type RecordingClient } from './harness.js'
import { runWorkload, type WorkloadResult } from './workload.js'

// Opened by the first test, not in beforeAll: without iptables every test fails (a failing
// beforeAll would report them skipped).
let firewall: Firewall | Error | null = null
function openFirewall(): Firewall {
  if (firewall === null) {
    try {
      firewall = Firewall.open()
    } catch (e) {
      firewall = e instanceof Error ? e : new Error(String(e))
    }
  }
  if (firewall instanceof Error) throw firewall
  return firewall
}
afterAll(() => {
  if (firewall instanceof Firewall) firewall.close()
})

/** A cluster on its own addresses, and its links; both undone when the test ends. */
async function startPartitionable(ctx: TestContext, options: ClusterOptions & { hostGroup: number }): Promise<{ c: ProcessCluster; links: ClusterLinks }> {
  const fw = openFirewall()
  const c = await startCluster(ctx, options)
  const links = fw.links(c)
  ctx.onTestFinished(() => links.release())
  return { c, links }
}

const probes = new WeakMap<ProcessCluster, KvClient>()

/** One replica's status (null when it does not answer), through one probe client per cluster. */
async function statusOf(c: ProcessCluster, id: string): Promise<ReplicaStatus | null> {
  let probe = probes.get(c)
  if (probe === undefined) {
    probe = c.client({ timeoutMs: 2000 })
    probes.set(c, probe)
  }
  return c.status(id, probe, 1000)
}

/** Waits until `id` no longer says it leads (it answers clients on 127.0.0.1 while cut off). */
function waitForStepDown(c: ProcessCluster, id: string): Promise<ReplicaStatus> {
  return waitFor(`${id} to step down`, async () => {
    const s = await statusOf(c, id)
    return s !== null && s.role !== 'leader' ? s : undefined
  })
}

/** Waits until `id` is a follower of a replica that says it leads, and returns that leader. */
function waitForFollowerOfLeader(c: ProcessCluster, id: string): Promise<string> {
  return waitFor(`${id} to follow the leader`, async () => {
    const s = await statusOf(c, id)
    if (s === null || s.role !== 'follower' || s.leader === null || s.leader === id) return undefined
    const l = await statusOf(c, s.leader)
    return l !== null && l.role === 'leader' && l.term === s.term ? s.leader : undefined
  })
}

/** Calls through a client that knows one replica only: puts and gets, each with a short deadline. */
async function pinnedCalls(kv: RecordingClient, keys: readonly string[], calls: number): Promise<WorkloadResult> {
  const result: WorkloadResult = { ok: 0, failed: 0, errors: new Map() }
  for (let n = 0; n < calls; n++) {
    const key = keys[n % keys.length]!
    const r = await attempt<unknown>(n % 2 === 0 ? kv.put(key, `pinned${kv.clientId}.${n}`, 1000) : kv.get(key, 1000))
    if (r.ok) result.ok++
    else result.failed++
  }
  return result
}

/** Reads every key once more (recorded), after the dust has settled. */
async function readAll(kv: RecordingClient, keys: readonly string[]): Promise<void> {
  for (const key of keys) await kv.get(key)
}

/** mulberry32: a small seeded PRNG, so a schedule can be replayed from its seed. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const protocols = [
  { protocol: 'raft', basePort: 22000, hostGroup: 41 },
  { protocol: 'paxos', basePort: 22010, hostGroup: 42 },
] as const

describe.concurrent('network partitions', () => {
  it.for(protocols)('$protocol: a leader cut off from both followers stops acknowledging; the majority elects another and serves; healed, the old leader follows and catches up', { timeout: 90_000 }, async ({ protocol, basePort, hostGroup }, ctx) => {
    const { c, links } = await startPartitionable(ctx, { name: `isolate-leader-${protocol}`, basePort, protocol, hostGroup })
    const oldLeader = await c.waitForLeader()
    const history = new HistoryRecorder()
    const keys = ['pl-a', 'pl-b', 'pl-c']
    // Three clients with the default retries and a 5 s deadline, before, during and after the cut.
    let done = false
    const throughout = runWorkload(c, history, { clients: 3, keys, opsPerClient: 3000, durationMs: 40_000, timeoutMs: 5000, pauseMs: 5, until: () => done })
    await sleep(1000)
    const before = await statusOf(c, oldLeader)
    expect(before?.role).toBe('leader')

    links.isolate(oldLeader)
    const newLeader = await c.waitForLeader({ exclude: [oldLeader] })
    const elected = await statusOf(c, newLeader)
    expect(elected?.term).toBeGreaterThan(before!.term)
    await waitForStepDown(c, oldLeader)
    // The majority serves fresh clients; a client that knows only the old leader gets nothing.
    const pinned = c.recordingClient(history, 30, { pinnedTo: oldLeader })
    const [majority, cutOff] = await Promise.all([
      runWorkload(c, history, { clients: 2, keys, opsPerClient: 20, durationMs: 3000, timeoutMs: 5000, firstClientId: 10 }),
      pinnedCalls(pinned, keys, 3),
    ])
    expect(majority.ok).toBeGreaterThan(0)
    expect(cutOff).toMatchObject({ ok: 0, failed: 3 })

    links.heal()
    await sleep(1500)
    done = true
    const all = await throughout
    expect(all.ok).toBeGreaterThan(0)
    // Healed: the old leader follows the new one and holds the same data at the same index.
    const leader = await waitForFollowerOfLeader(c, oldLeader)
    expect(leader).not.toBe(oldLeader)
    const applied = await c.waitForConvergence(c.ids)
    expect(applied).toBeGreaterThanOrEqual(elected!.commitIndex)
    await readAll(c.recordingClient(history, 40), keys)
    expectLinearizable(history)
  })

  it.for(protocols)('$protocol: a partition that leaves one bridge replica and keeps moving (seeded) under load: healed, the replicas converge', { timeout: 90_000 }, async ({ protocol, basePort, hostGroup }, ctx) => {
    const { c, links } = await startPartitionable(ctx, { name: `moving-${protocol}`, basePort: basePort + 20, protocol, hostGroup: hostGroup + 2 })
    const seed = Number(process.env['KV_PARTITION_SEED'] ?? Math.floor(Math.random() * 2 ** 31))
    const random = seededRandom(seed)
    const steps: string[] = []
    const replay = () => `${protocol} moving partition, seed ${seed} (replay: KV_PARTITION_SEED=${seed} pnpm vitest run apps/node/test/partition.test.ts -t '${protocol}.: a partition that leaves')`
    console.log(replay())
    ctx.onTestFailed(() => console.error(`${replay()}:\n  ${steps.join('\n  ')}`))
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!
    const leader = await c.waitForLeader()
    const history = new HistoryRecorder()
    const keys = ['pm-a', 'pm-b']
    let done = false
    const load = runWorkload(c, history, { clients: 3, keys, opsPerClient: 3000, durationMs: 40_000, timeoutMs: 5000, pauseMs: 5, until: () => done })
    await sleep(500)

    // Step 0: the leader is the bridge (the followers cannot see each other); then the cut
    // moves: another bridge, one replica alone, or nothing cut, about every second.
    const bridge = (b: string): Link[] => {
      const [x, y] = c.ids.filter((id) => id !== b)
      return [[x!, y!]]
    }
    for (let step = 0; step < 8; step++) {
      const r = random()
      if (step === 0) links.cut(bridge(leader))
      else if (r < 0.6) links.cut(bridge(pick(c.ids)))
      else if (r < 0.85) links.isolate(pick(c.ids))
      else links.heal()
      steps.push(`${step}: cut ${links.describe()}`)
      await sleep(1000)
    }
    links.heal()
    console.log(`${replay()}:\n  ${steps.join('\n  ')}`)
    await sleep(1500)
    done = true
    const during = await load
    expect(during.ok).toBeGreaterThan(0)

    // Healed: the group serves and every replica holds the same data.
    await c.waitForLeader()
    const after = await runWorkload(c, history, { clients: 2, keys, opsPerClient: 15, durationMs: 5000, timeoutMs: 5000, firstClientId: 10 })
    expect(after.ok).toBeGreaterThan(0)
    await c.waitForConvergence(c.ids)
    await readAll(c.recordingClient(history, 40), keys)
    expectLinearizable(history)
  })

  it('raft: the leader cut off, then the new leader SIGKILLed and restarted: healed, no acknowledged write is lost', { timeout: 90_000 }, async (ctx) => {
    const { c, links } = await startPartitionable(ctx, { name: 'cut-and-kill', basePort: 22040, hostGroup: 45 })
    const oldLeader = await c.waitForLeader()
    const history = new HistoryRecorder()
    const acked = new Map<string, string>()
    let writing = true
    const writers = Array.from({ length: 3 }, async (_, w) => {
      const kv = c.recordingClient(history, w, { timeoutMs: 5000 })
      for (let n = 0; n < 2000 && writing; n++) {
        const key = `pk-${w}-${n}`
        const r = await attempt(kv.put(key, `v${w}.${n}`))
        if (r.ok) acked.set(key, `v${w}.${n}`)
        // And one key everybody overwrites and reads.
        await attempt<unknown>(n % 2 === 0 ? kv.put('pk-shared', `s${w}.${n}`) : kv.get('pk-shared'))
      }
    })
    await sleep(1000)
    links.isolate(oldLeader)
    const newLeader = await c.waitForLeader({ exclude: [oldLeader] })
    await sleep(300)
    await c.kill(newLeader, 'SIGKILL')
    await sleep(1000)
    c.startNode(newLeader)
    // The majority (the restarted replica and the other follower) elects again, cut off still.
    const third = await c.waitForLeader({ exclude: [oldLeader] })
    expect(third).not.toBe(oldLeader)
    await sleep(1000)
    links.heal()
    await sleep(1500)
    writing = false
    await Promise.all(writers)
    expect(acked.size).toBeGreaterThan(0)

    await waitForFollowerOfLeader(c, oldLeader)
    await c.waitForConvergence(c.ids)
    const reader = c.recordingClient(history, 9)
    const written = [...acked.keys()]
    for (let i = 0; i < written.length; i += 50) {
      const slice = written.slice(i, i + 50)
      const values = await Promise.all(slice.map((k) => reader.get(k)))
      expect(values).toEqual(slice.map((k) => acked.get(k)))
    }
    await reader.get('pk-shared')
    expectLinearizable(history)
  })

  it('raft, f=2: split 2|3 with the leader on the 2-side: the 3-side serves, the 2-side acknowledges nothing; healed, all five agree', { timeout: 90_000 }, async (ctx) => {
    const { c, links } = await startPartitionable(ctx, { name: 'split-2-3', basePort: 22050, f: 2, hostGroup: 46 })
    const oldLeader = await c.waitForLeader()
    const history = new HistoryRecorder()
    const keys = ['p5-a', 'p5-b', 'p5-c']
    let done = false
    const throughout = runWorkload(c, history, { clients: 3, keys, opsPerClient: 3000, durationMs: 40_000, timeoutMs: 5000, pauseMs: 5, until: () => done })
    await sleep(1000)

    const small = [oldLeader, c.ids.find((id) => id !== oldLeader)!]
    const large = c.ids.filter((id) => !small.includes(id))
    links.split([small, large])
    const newLeader = await c.waitForLeader({ exclude: small })
    expect(large).toContain(newLeader)
    await waitForStepDown(c, oldLeader)
    const [majority, ...minority] = await Promise.all([
      runWorkload(c, history, { clients: 2, keys, opsPerClient: 20, durationMs: 3000, timeoutMs: 5000, firstClientId: 10 }),
      ...small.map((id, i) => pinnedCalls(c.recordingClient(history, 30 + i, { pinnedTo: id }), keys, 3)),
    ])
    expect(majority.ok).toBeGreaterThan(0)
    for (const r of minority) expect(r).toMatchObject({ ok: 0, failed: 3 })

    links.heal()
    await sleep(1500)
    done = true
    const all = await throughout
    expect(all.ok).toBeGreaterThan(0)
    for (const id of small) await waitForFollowerOfLeader(c, id)
    await c.waitForConvergence(c.ids)
    await readAll(c.recordingClient(history, 40), keys)
    expectLinearizable(history)
  })
})
