/**
 * Clusters that start (or restart) with replicas missing: one follower never started, the
 * former leader missing after a whole-cluster restart, f of 2f+1 dead (service continues),
 * f+1 dead (clear UnavailableError / TimeoutError, and service resumes when one returns).
 */
import { TimeoutError, UnavailableError } from '@kv/client'
import { HistoryRecorder } from '@kv/sim'
import { describe, expect, it } from 'vitest'
import { attempt, errorCode, expectLinearizable, startCluster, waitFor } from './harness.js'
import { runWorkload } from './workload.js'

describe.concurrent('missing replicas at start', () => {
  it.for([
    { protocol: 'raft', basePort: 21300 },
    { protocol: 'paxos', basePort: 21310 },
  ] as const)('$protocol: a cluster started with one replica missing serves, and the late one catches up', { timeout: 150_000 }, async ({ protocol, basePort }, ctx) => {
    const probe = await startCluster(ctx, { name: `start-one-missing-${protocol}`, basePort, protocol, start: [] })
    probe.startNode(probe.id(0))
    probe.startNode(probe.id(1))
    const leader = await probe.waitForLeader()
    expect(leader).not.toBe(probe.id(2))

    const history = new HistoryRecorder()
    const r = await runWorkload(probe, history, { clients: 2, keys: ['m1', 'm2'], opsPerClient: 30, durationMs: 10_000 })
    expect(r.failed).toBe(0)

    probe.startNode(probe.id(2))
    const s = await probe.status(leader, probe.client())
    expect(s).not.toBeNull()
    await probe.waitForApplied(s!.commitIndex, [probe.id(2)])
    // The late replica now holds the data: with the leader gone, it and the other one still serve.
    await probe.kill(leader, 'SIGKILL')
    const kv = probe.recordingClient(history, 5)
    await kv.get('m1')
    await kv.put('m2', 'after')
    expect(await kv.get('m2')).toBe('after')
    expectLinearizable(history)
  })

  it('a cluster restarted without its former leader serves every acknowledged value', { timeout: 150_000 }, async (ctx) => {
    const c = await startCluster(ctx, { name: 'start-no-leader', basePort: 21320 })
    const leader = await c.waitForLeader()
    const history = new HistoryRecorder()
    const kv = c.recordingClient(history, 0)
    for (let i = 0; i < 10; i++) await kv.put(`nl${i}`, `v${i}`)
    expect(await kv.delete('nl9')).toBe(true)

    await Promise.all(c.ids.map((id) => c.kill(id, 'SIGKILL')))
    for (const id of c.ids) if (id !== leader) c.startNode(id)
    const next = await c.waitForLeader()
    expect(next).not.toBe(leader)
    for (let i = 0; i < 9; i++) expect(await kv.get(`nl${i}`)).toBe(`v${i}`)
    expect(await kv.get('nl9')).toBeNull()
    await kv.put('nl0', 'new')
    expect(await kv.get('nl0')).toBe('new')
    expectLinearizable(history)
  })
})

describe.concurrent('f and f+1 dead', () => {
  it('f=2: serves with f replicas dead, fails clearly with f+1 dead, and resumes when one returns', { timeout: 150_000 }, async (ctx) => {
    const c = await startCluster(ctx, { name: 'f-dead', basePort: 21330, f: 2, start: [] })
    expect(c.ids).toHaveLength(5)
    // f = 2 of 5 never start.
    for (const id of c.ids.slice(0, 3)) c.startNode(id)
    await c.waitForLeader()
    const history = new HistoryRecorder()
    const kv = c.recordingClient(history, 0, { timeoutMs: 3000 })
    await kv.put('fd', 'one')
    expect(await kv.get('fd')).toBe('one')

    // f + 1 dead: no majority. The call fails with a typed error at its deadline.
    await c.kill(c.id(0), 'SIGKILL')
    const put = await attempt(kv.put('fd', 'two', 1000))
    expect(put.ok).toBe(false)
    if (!put.ok) expect(put.error instanceof TimeoutError || put.error instanceof UnavailableError, errorCode(put.error)).toBe(true)
    const get = await attempt(kv.get('fd', 1000))
    expect(get.ok).toBe(false)
    if (!get.ok) expect(get.error instanceof TimeoutError || get.error instanceof UnavailableError, errorCode(get.error)).toBe(true)

    // One comes back (one that never ran: it must catch up from nothing): service resumes.
    c.startNode(c.id(3))
    await c.waitForLeader()
    await waitFor('a write to succeed again', async () => ((await attempt(kv.put('fd', 'three'))).ok ? true : undefined), 30_000, 100)
    const seen = await kv.get('fd')
    expect(seen).toBe('three')
    expectLinearizable(history)
  })

  it('f=1: with no replica up the client says UNAVAILABLE, with one up TIMEOUT, with two up it serves', { timeout: 150_000 }, async (ctx) => {
    const c = await startCluster(ctx, { name: 'f1-dead', basePort: 21340, start: [] })
    const history = new HistoryRecorder()
    const kv = c.recordingClient(history, 0, { timeoutMs: 2500 })

    const none = await attempt(kv.put('u', 'a'))
    expect(none.ok).toBe(false)
    if (!none.ok) expect(none.error, errorCode(none.error)).toBeInstanceOf(UnavailableError)

    c.startNode(c.id(0))
    // Wait until the lone replica listens (its status answers), then a write cannot commit.
    await waitFor('the lone replica to listen', async () => ((await c.status(c.id(0), c.client())) !== null ? true : undefined))
    const one = await attempt(kv.put('u', 'b', 1000))
    expect(one.ok).toBe(false)
    if (!one.ok) expect(one.error, errorCode(one.error)).toBeInstanceOf(TimeoutError)

    c.startNode(c.id(1))
    await c.waitForLeader()
    await waitFor('a write to succeed', async () => ((await attempt(kv.put('u', 'c'))).ok ? true : undefined), 30_000, 100)
    expect(await kv.get('u')).toBe('c')
    expectLinearizable(history)
  })
})
