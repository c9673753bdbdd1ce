/**
 * Live migration with real `kv node` processes, a leader SIGKILLed at each named step of the
 * protocol (DESIGN.md, "Live migration"), in clusters that mix Raft and Paxos groups and
 * groups of different f. Each replica logs every migration step it applies as one structured
 * line (`{"migration": step, "epoch", "from", "to", "group"}`); the test watches those lines
 * and SIGKILLs the group's leader as soon as the step named appears, so the next leader must
 * resume from the log. Steps follow each other within milliseconds on one machine, so a kill
 * lands "after step X" for sure and "before step Y" most of the time; the simulator's
 * sharded tests crash a leader at exact points between every two steps.
 *
 * Every history is checked for linearizability; afterwards every key sits where the final map
 * puts it and the groups that lost keys hold none of them.
 */
import type { ClusterSpec } from '@kv/protocol'
import { ShardRouter } from '@kv/protocol'
import { HistoryRecorder } from '@kv/sim'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { attempt, expectLinearizable, recordSpreadBatch, limitClustersAtOnce, sleep, startCluster, waitFor, type ProcessCluster } from './harness.js'

type Protocol = 'raft' | 'paxos'
const other = (p: Protocol): Protocol => (p === 'raft' ? 'paxos' : 'raft')

/**
 * Controller, g1 and g2 in the first map, g3 spare. The controller and g1 run `protocol`, g2
 * the other protocol with f=2 (five replicas), g3 `protocol` with f=1.
 */
function mixed(protocol: Protocol) {
  return (config: ClusterSpec): ClusterSpec => ({
    ...config,
    groups: config.groups.map((g) => {
      if (g.id === 'g2') return { ...g, protocol: other(protocol) }
      return { ...g, protocol, replicas: g.replicas.slice(0, 3) }
    }),
    controller: { ...config.controller!, protocol, replicas: config.controller!.replicas.slice(0, 3) },
  })
}

/** Clients that put, append, get and batch-put (across groups) until stopped. */
function startLoad(cluster: ProcessCluster, history: HistoryRecorder, clients: number, keys: number) {
  const state = { stop: false, ok: 0, failed: 0, batches: 0 }
  const loops = Array.from({ length: clients }, async (_, c) => {
    const rc = cluster.recordingClient(history, c + 1, { timeoutMs: 8000 })
    for (let n = 0; !state.stop; n++) {
      const key = `k${(c * 7 + n) % keys}`
      const value = `c${c}.${n}`
      const batch = n % 3 === 2
      const r = await attempt<unknown>(
        n % 3 === 0 ? rc.put(key, value)
          : n % 3 === 1 ? rc.append(key, `${value};`)
            : recordSpreadBatch(rc, [[`k${(n + 1) % keys}`, value], [`k${(n + 5) % keys}`, value], [`k${(n + 9) % keys}`, value]]),
      )
      if (r.ok) {
        state.ok++
        if (batch) state.batches++
      } else state.failed++
      if (n % 5 === 0) await attempt(rc.get(key))
    }
  })
  return {
    state,
    async stop() {
      state.stop = true
      await Promise.all(loops)
    },
  }
}

/** True once a replica of `group` logged migration step `step` of `epoch`. */
function stepLogged(cluster: ProcessCluster, group: string, step: string, epoch: number): boolean {
  return cluster.replicasOf(group).some((id) => {
    let text: string
    try {
      text = readFileSync(cluster.logPath(id), 'utf8')
    } catch {
      return false
    }
    return text.includes(`"migration":"${step}","epoch":${epoch},`)
  })
}

/**
 * Waits for `step` of `epoch` in `group`'s logs, then SIGKILLs the group's leader at once and
 * restarts it a second later (in the background). Returns the replica killed.
 */
async function killLeaderAtStep(cluster: ProcessCluster, group: string, step: string, epoch: number, restarts: Promise<void>[]): Promise<string> {
  await waitFor(`${group} logging ${step} of epoch ${epoch}`, () => Promise.resolve(stepLogged(cluster, group, step, epoch) ? true : undefined), 30_000, 20)
  const leader = await cluster.waitForLeader({ group, timeoutMs: 10_000 })
  await cluster.kill(leader, 'SIGKILL')
  restarts.push(sleep(1000).then(() => cluster.restart(leader)))
  console.log(`SIGKILLed ${leader} (${group}'s leader) after it logged ${step} of epoch ${epoch}`)
  return leader
}

async function settled(cluster: ProcessCluster, epoch: number): Promise<void> {
  const probe = cluster.client({ timeoutMs: 1000 })
  await waitFor(`every shard group at epoch ${epoch} with no migration`, async () => {
    for (const g of cluster.config.groups.map((x) => x.id)) {
      const leader = await cluster.waitForLeader({ group: g, timeoutMs: 10_000 })
      const s = await cluster.status(leader, probe, 1000)
      if (s?.epoch !== epoch || (s.migrations?.length ?? 1) !== 0) return undefined
    }
    return true
  }, 60_000, 300)
}

/** Every running replica of every shard group holds exactly the keys the final map gives it. */
async function expectKeysPlaced(cluster: ProcessCluster, router: ShardRouter, keys: readonly string[]): Promise<void> {
  const probe = cluster.client({ timeoutMs: 2000 })
  for (const group of cluster.config.groups) {
    const owned = keys.filter((k) => router.groupOf(k).id === group.id).length
    const ids = cluster.replicasOf(group.id).filter((id) => cluster.isRunning(id))
    let reported: Array<number | undefined> = []
    try {
      await waitFor(`${group.id}'s replicas holding its ${owned} keys`, async () => {
        reported = await Promise.all(ids.map(async (id) => (await cluster.status(id, probe, 2000))?.keys))
        return reported.every((n) => n === owned) ? true : undefined
      }, 30_000, 300)
    } catch {
      expect(reported, `keys held by ${ids.join(', ')}`).toEqual(ids.map(() => owned))
    }
  }
}

limitClustersAtOnce(2)

describe.concurrent.each(['raft', 'paxos'] as const)('%s-led mixed cluster: migration steps under SIGKILL', (protocol) => {
  it('resumes every migration when a leader dies at each named step; clients and batch-puts keep working, every history linearizable', async (ctx) => {
    const basePort = protocol === 'raft' ? 22500 : 22540
    const cluster = await startCluster(ctx, {
      name: `sharded-steps-${protocol}`, basePort, protocol, f: 2, groups: 2, spare: 1, configure: mixed(protocol),
    })
    expect(cluster.config.groups.map((g) => [g.id, g.protocol, g.replicas.length])).toEqual([
      ['g1', protocol, 3], ['g2', other(protocol), 5], ['g3', protocol, 3],
    ])
    const admin = cluster.client({ timeoutMs: 30_000 })
    await cluster.waitForLeader({ group: 'ctl', timeoutMs: 30_000 })
    const history = new HistoryRecorder()
    const keyCount = 30
    const load = startLoad(cluster, history, 6, keyCount)
    await sleep(1500)
    const restarts: Promise<void>[] = []
    const g3 = cluster.config.groups[2]!

    // Epoch 2, add g3: its leader dies once it logged SEND_KEYS_REQUEST, then again after
    // SHARD_READY (before KEYS_LEARNED reaches the losers).
    const added = admin.addShardGroup(g3)
    await killLeaderAtStep(cluster, 'g3', 'send-keys-request', 2, restarts)
    expect(await added).toBe(2)
    await killLeaderAtStep(cluster, 'g3', 'shard-ready', 2, restarts)
    await settled(cluster, 2)
    await Promise.all(restarts.splice(0))
    // The same group again is a no-op answering the current epoch (not a new map).
    expect(await admin.addShardGroup(g3)).toBe(2)

    // Epoch 3, remove g1: its leader dies once it applied the map (before the gainers' requests
    // reach it), and the controller's leader dies mid-migration.
    expect(await admin.removeShardGroup('g1')).toBe(3)
    await killLeaderAtStep(cluster, 'g1', 'config', 3, restarts)
    const ctlLeader = await cluster.waitForLeader({ group: 'ctl', timeoutMs: 10_000 })
    await cluster.kill(ctlLeader, 'SIGKILL')
    restarts.push(sleep(1000).then(() => cluster.restart(ctlLeader)))
    await settled(cluster, 3)
    await Promise.all(restarts.splice(0))

    // Epoch 4, add g1 back: g2 (the other protocol, f=2) loses arcs; its leader dies once it
    // logged SEND_KEYS_RESPONSE (the keys are frozen and on their way).
    const g1 = cluster.config.groups[0]!
    expect(await admin.addShardGroup(g1)).toBe(4)
    await killLeaderAtStep(cluster, 'g2', 'send-keys-response', 4, restarts)
    await settled(cluster, 4)
    await Promise.all(restarts.splice(0))

    await load.stop()
    expect(load.state.ok).toBeGreaterThan(50)
    expect(load.state.batches).toBeGreaterThan(5)
    expectLinearizable(history)

    const map = await admin.shardMap()
    expect(map?.epoch).toBe(4)
    expect([...map!.groups.map((g) => g.id)].sort()).toEqual(['g1', 'g2', 'g3'])
    const router = new ShardRouter(map!)
    const keys = Array.from({ length: keyCount }, (_, k) => `k${k}`)
    // Every key the load wrote is readable, wherever it moved.
    const reader = cluster.client({ timeoutMs: 10_000 })
    const values = await Promise.all(keys.map((k) => reader.get(k)))
    const written = keys.filter((_, i) => values[i] !== null)
    expect(written.length).toBeGreaterThan(keyCount / 2)
    await expectKeysPlaced(cluster, router, written)
  }, 240_000)

  it('serves the arcs that do not move while a migration waits for a group that is down; one group led by no one when the shard is added', async (ctx) => {
    const basePort = protocol === 'raft' ? 22580 : 22600
    const cluster = await startCluster(ctx, { name: `sharded-stall-${protocol}`, basePort, protocol, groups: 1, spare: 1 })
    const g2 = cluster.config.groups[1]!
    for (const id of cluster.replicasOf('g2')) await cluster.kill(id, 'SIGKILL') // g2 is down
    const admin = cluster.client({ timeoutMs: 30_000 })
    await cluster.waitForLeader({ group: 'ctl', timeoutMs: 30_000 })
    await cluster.waitForLeader({ group: 'g1', timeoutMs: 30_000 })
    const history = new HistoryRecorder()
    const keys = Array.from({ length: 40 }, (_, k) => `s${k}`)
    const seed = cluster.recordingClient(history, 1, { timeoutMs: 10_000 })
    for (const k of keys) await seed.put(k, 'v0')

    // g1's leader dies and the map that adds g2 commits while g1 has no leader and g2 is down.
    const g1Leader = await cluster.waitForLeader({ group: 'g1', timeoutMs: 10_000 })
    await cluster.kill(g1Leader, 'SIGKILL')
    expect(await admin.addShardGroup(g2)).toBe(2)
    await cluster.restart(g1Leader)
    const router = new ShardRouter((await admin.shardMap())!)
    const staying = keys.filter((k) => router.groupOf(k).id === 'g1')
    const moving = keys.filter((k) => router.groupOf(k).id === 'g2')
    expect(staying.length).toBeGreaterThan(5)
    expect(moving.length).toBeGreaterThan(5)

    const probe = cluster.client({ timeoutMs: 1000 })
    await waitFor('g1 at epoch 2', async () => {
      const leader = await cluster.waitForLeader({ group: 'g1', timeoutMs: 10_000 })
      return (await cluster.status(leader, probe, 1000))?.epoch === 2 ? true : undefined
    }, 30_000, 200)
    // For 4 s the migration cannot finish (the gainer is down): the staying keys are served,
    // the moving ones are frozen at g1 and not yet served by g2.
    const served = { staying: 0, moving: 0 }
    const until = Date.now() + 4000
    const loop = async (clientId: number, list: readonly string[], counter: 'staying' | 'moving') => {
      const writer = cluster.recordingClient(history, clientId, { timeoutMs: 1500 })
      for (let n = 0; Date.now() < until; n++) if ((await attempt(writer.put(list[n % list.length]!, `w${n}`))).ok) served[counter]++
    }
    await Promise.all([loop(2, staying, 'staying'), loop(4, moving, 'moving')])
    expect(served.staying).toBeGreaterThan(10)
    expect(served.moving).toBe(0)

    // g2 starts: it pulls its keys, and every key is served where the map puts it.
    for (const id of cluster.replicasOf('g2')) cluster.startNode(id)
    await settled(cluster, 2)
    const after = cluster.recordingClient(history, 3, { timeoutMs: 10_000 })
    for (const k of moving) await after.append(k, '+')
    for (const k of moving) expect((await after.get(k))?.endsWith('+')).toBe(true)
    expectLinearizable(history)
    await expectKeysPlaced(cluster, router, keys)
  }, 180_000)
})
