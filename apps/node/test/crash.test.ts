/**
 * Crashes and pauses of real replica processes, for both protocols: SIGKILL of the leader,
 * SIGKILL and restart of every replica under load, SIGSTOP/SIGCONT of the leader. Each test
 * owns its cluster; the tests run concurrently (at most three clusters at once).
 */
import { HistoryRecorder } from '@kv/sim'
import { describe, expect, it } from 'vitest'
import { attempt, expectLinearizable, runKv, sleep, startCluster, waitFor } from './harness.js'
import { runWorkload } from './workload.js'

const protocols = [
  { protocol: 'raft', basePort: 21200 },
  { protocol: 'paxos', basePort: 21230 },
] as const

describe.concurrent('crashes', () => {
  it.for(protocols)('$protocol: after SIGKILL of the leader, the new leader answers get/put/delete with what was learned', { timeout: 150_000 }, async ({ protocol, basePort }, ctx) => {
    const c = await startCluster(ctx, { name: `kill-leader-${protocol}`, basePort, protocol })
    const oldLeader = await c.waitForLeader()
    const history = new HistoryRecorder()
    const kv = c.recordingClient(history, 0)
    for (let i = 0; i < 5; i++) await kv.put(`kl${i}`, `before${i}`)
    await kv.put('kl-del', 'x')

    await c.kill(oldLeader, 'SIGKILL')
    const newLeader = await c.waitForLeader({ exclude: [oldLeader] })
    expect(newLeader).not.toBe(oldLeader)

    for (let i = 0; i < 5; i++) expect(await kv.get(`kl${i}`)).toBe(`before${i}`)
    expect(await kv.delete('kl-del')).toBe(true)
    expect(await kv.get('kl-del')).toBeNull()
    await kv.put('kl0', 'after0')
    expect(await kv.get('kl0')).toBe('after0')
    expect(await kv.delete('kl-never')).toBe(false)

    // The killed leader comes back, catches up, and the answers stay the same.
    c.startNode(oldLeader)
    const s = await c.status(newLeader, c.client())
    expect(s).not.toBeNull()
    await c.waitForApplied(s!.commitIndex, [oldLeader])
    expect(await kv.get('kl0')).toBe('after0')
    expect(await kv.get('kl1')).toBe('before1')
    expectLinearizable(history)
  })

  it.for(protocols)('$protocol: no acknowledged write is lost when every replica is SIGKILLed under load and restarted', { timeout: 150_000 }, async ({ protocol, basePort }, ctx) => {
    const c = await startCluster(ctx, { name: `kill-all-${protocol}`, basePort: basePort + 10, protocol })
    await c.waitForLeader()
    const history = new HistoryRecorder()
    const acked = new Map<string, string>()
    let writing = true
    const writers = Array.from({ length: 3 }, async (_, w) => {
      const kv = c.recordingClient(history, w, { timeoutMs: 3000 })
      for (let n = 0; n < 400 && writing; n++) {
        const key = `ka-${w}-${n}`
        const r = await attempt(kv.put(key, `v${w}.${n}`))
        if (r.ok) acked.set(key, `v${w}.${n}`)
        // One shared key too, overwritten by everybody.
        await attempt(kv.put('ka-shared', `s${w}.${n}`))
      }
    })
    await sleep(1500)
    await Promise.all(c.ids.map((id) => c.kill(id, 'SIGKILL')))
    writing = false
    await Promise.all(writers)
    expect(acked.size).toBeGreaterThan(0)

    for (const id of c.ids) c.startNode(id)
    await c.waitForLeader()
    const reader = c.recordingClient(history, 9)
    const keys = [...acked.keys()]
    for (let i = 0; i < keys.length; i += 50) {
      const slice = keys.slice(i, i + 50)
      const values = await Promise.all(slice.map((k) => reader.get(k)))
      expect(values).toEqual(slice.map((k) => acked.get(k)))
    }
    await reader.get('ka-shared')
    expectLinearizable(history)
  })

  it.for(protocols)('$protocol: keeps serving while the leader is paused with SIGSTOP, and stays linearizable after SIGCONT', { timeout: 150_000 }, async ({ protocol, basePort }, ctx) => {
    const c = await startCluster(ctx, { name: `stop-leader-${protocol}`, basePort: basePort + 20, protocol })
    const leader = await c.waitForLeader()
    const history = new HistoryRecorder()
    const keys = ['ks-a', 'ks-b', 'ks-c']
    // Clients with the default retries and deadline (5 s), running before, during and after the pause.
    let paused = 0
    const throughout = runWorkload(c, history, {
      clients: 3, keys, opsPerClient: 2000, durationMs: 30_000, timeoutMs: 5000, pauseMs: 5,
      until: () => paused > 0 && performance.now() - paused > 6000,
    })
    await sleep(1000)
    await c.kill(leader, 'SIGSTOP')
    paused = performance.now()
    // While it is paused, fresh clients get answers from a new leader.
    const newLeader = await c.waitForLeader({ exclude: [leader] })
    expect(newLeader).not.toBe(leader)
    const during = await runWorkload(c, history, { clients: 2, keys, opsPerClient: 20, durationMs: 3000, timeoutMs: 5000, firstClientId: 10 })
    expect(during.ok).toBeGreaterThan(0)
    await sleep(Math.max(0, 4000 - (performance.now() - paused)))
    await c.kill(leader, 'SIGCONT')
    const all = await throughout
    expect(all.ok).toBeGreaterThan(0)
    // The old leader, back, steps down and catches up; reads and writes go on.
    const after = await runWorkload(c, history, { clients: 2, keys, opsPerClient: 15, durationMs: 4000, firstClientId: 20 })
    expect(after.ok).toBeGreaterThan(0)
    const s = await c.status(await c.waitForLeader(), c.client())
    expect(s).not.toBeNull()
    await c.waitForApplied(s!.commitIndex, [leader])
    expectLinearizable(history)
  })

  it('paxos: the holes a leader leaves (--skip-slots) block nothing once it is SIGKILLed: the next leader fills them with no-ops', { timeout: 150_000 }, async (ctx) => {
    // Only the first leader may skip slots: a later leader given the flag would leave a new hole
    // of its own at slot 5 if the first one had not reached it. So one replica has the flag, and
    // it must win the first election (bounded retries of the first two replicas).
    const c = await startCluster(ctx, { name: 'skip-slots', basePort: 21260, protocol: 'paxos', start: [] })
    const [skipper, other, third] = [c.id(0), c.id(1), c.id(2)]
    let leader = ''
    for (let round = 0; round < 10 && leader !== skipper; round++) {
      if (round > 0) await Promise.all([c.kill(skipper, 'SIGKILL'), c.kill(other, 'SIGKILL')])
      c.startNode(skipper, ['--skip-slots', '3,5'])
      c.startNode(other)
      leader = await c.waitForLeader()
    }
    expect(leader, 'the replica with --skip-slots won the first election').toBe(skipper)
    c.startNode(third)
    const history = new HistoryRecorder()
    // Writes that land past the holes cannot commit while this leader leads. A write that gives
    // up during the failover (its deadline) is recorded as unknown and tried again as a new
    // write, a bounded number of times.
    // Writers start 100 ms apart so that their first writes take slots of their own, and the
    // leader holds slots past both holes before it is killed (checked below): then a quorum of
    // the survivors knows of slot 6 or later, and the next leader must fill 3 and 5 with no-ops.
    const writes = Array.from({ length: 4 }, async (_, w) => {
      await sleep(100 * w)
      const kv = c.recordingClient(history, w, { timeoutMs: 30_000 })
      for (let n = 0; n < 3; n++) {
        let r = await attempt(kv.put(`hole-${w}`, `v${w}.${n}`))
        for (let retry = 0; retry < 5 && !r.ok; retry++) r = await attempt(kv.put(`hole-${w}`, `v${w}.${n}`))
        expect(r.ok, r.ok ? '' : String(r.error)).toBe(true)
      }
    })
    let before: Awaited<ReturnType<typeof c.status>> = null
    await waitFor('the skipping leader holds slots past both holes', async () => {
      before = await c.status(leader, c.client())
      return before !== null && before.lastIndex > 5 ? true : undefined
    }, 15_000, 100)
    await sleep(300)
    before = await c.status(leader, c.client())
    // The hole is there: the leader holds slots past its commit index.
    expect(before).not.toBeNull()
    expect(before!.commitIndex).toBeLessThan(before!.lastIndex)
    expect(before!.commitIndex).toBeLessThan(5)
    await c.kill(leader, 'SIGKILL')
    const next = await c.waitForLeader({ exclude: [leader] })
    expect(next).not.toBe(leader)
    await Promise.all(writes)
    const kv = c.recordingClient(history, 9)
    for (let w = 0; w < 4; w++) expect(await kv.get(`hole-${w}`)).toBe(`v${w}.2`)
    const after = await c.status(next, c.client())
    expect(after).not.toBeNull()
    expect(after!.commitIndex).toBeGreaterThan(before?.commitIndex ?? 0)
    expectLinearizable(history)

    // `kv log` shows what filled the skipped slots: a no-op at 3 and 5 on the new leader and
    // on the third replica (the dead skipper never accepted anything there: holes).
    const slots = async (id: string) => {
      const r = await runKv(['--json', 'log', '--data', c.dataDir(id), '--limit', '8'])
      expect(r.code, r.stderr).toBe(0)
      return new Map(r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { index: number; kind: string }).map((l) => [l.index, l.kind]))
    }
    for (const id of new Set([next, third])) {
      let last = new Map<number, string>()
      try {
        await waitFor(`no-ops in slots 3 and 5 of ${id}`, async () => {
          last = await slots(id)
          return last.get(3) === 'noop' && last.get(5) === 'noop' ? true : undefined
        }, 30_000, 300)
      } catch {
        expect(Object.fromEntries(last), `kv log of ${id}, slots 1..8`).toMatchObject({ 3: 'noop', 5: 'noop' })
      }
    }
    const skipperLog = await slots(leader)
    expect([skipperLog.get(3), skipperLog.get(5)]).toEqual(['hole', 'hole'])
  })

  it('raft: a rolling restart with SIGTERM under load: each replica exits 0 and the history stays linearizable', { timeout: 150_000 }, async (ctx) => {
    const c = await startCluster(ctx, { name: 'rolling', basePort: 21270 })
    await c.waitForLeader()
    const history = new HistoryRecorder()
    let done = false
    const load = runWorkload(c, history, {
      clients: 3, keys: ['rr-a', 'rr-b'], opsPerClient: 3000, durationMs: 60_000, pauseMs: 10, until: () => done,
    })
    for (const id of c.ids) {
      await c.kill(id, 'SIGTERM')
      expect(c.exitStatus(id)).toEqual({ code: 0, signal: null })
      expect(c.logTail(id, 5)).toContain('shutting down')
      c.startNode(id)
      // Back and caught up before the next one goes: never two down at once.
      const s = await c.status(await c.waitForLeader(), c.client())
      expect(s).not.toBeNull()
      await c.waitForApplied(s!.commitIndex, [id])
    }
    done = true
    const r = await load
    expect(r.ok).toBeGreaterThan(0)
    expectLinearizable(history)
  })

  it('raft: a leader stopped with SIGTERM under write load exits 0 (no write after the log is closed)', { timeout: 150_000 }, async (ctx) => {
    const c = await startCluster(ctx, { name: 'sigterm-leader', basePort: 21280 })
    await c.waitForLeader()
    const history = new HistoryRecorder()
    let done = false
    const load = runWorkload(c, history, {
      clients: 4, keys: ['tl-a', 'tl-b'], opsPerClient: 5000, durationMs: 90_000, until: () => done,
    })
    for (let round = 0; round < 5; round++) {
      const leader = await c.waitForLeader()
      await sleep(300)
      await c.kill(leader, 'SIGTERM')
      expect(c.exitStatus(leader), c.logTail(leader, 3)).toEqual({ code: 0, signal: null })
      c.startNode(leader)
      const s = await c.status(await c.waitForLeader(), c.client())
      expect(s).not.toBeNull()
      await c.waitForApplied(s!.commitIndex, [leader])
    }
    done = true
    const r = await load
    expect(r.ok).toBeGreaterThan(0)
    expectLinearizable(history)
  })
})
