/**
 * Message loss at a rate (`kv node --drop-rate low|medium|high`) on every replica, with
 * concurrent clients: the service continues and every history is linearizable.
 */
import { HistoryRecorder } from '@kv/sim'
import { describe, expect, it } from 'vitest'
import { expectLinearizable, startCluster } from './harness.js'
import { runWorkload } from './workload.js'

describe.concurrent('drop rates', () => {
  // --drop-rate high runs in paxos-loss.test.ts, for both protocols side by side (10 clients,
  // 20 s, both histories checked): not again here.
  it.for([
    { protocol: 'raft', rate: 'low', basePort: 21400 },
    { protocol: 'raft', rate: 'medium', basePort: 21410 },
    { protocol: 'paxos', rate: 'medium', basePort: 21430 },
  ] as const)('$protocol with --drop-rate $rate: concurrent clients get linearizable answers', { timeout: 150_000 }, async ({ protocol, rate, basePort }, ctx) => {
    const c = await startCluster(ctx, { name: `drop-${protocol}-${rate}`, basePort, protocol, nodeFlags: ['--drop-rate', rate] })
    await c.waitForLeader({ timeoutMs: 45_000 })
    const history = new HistoryRecorder()
    const r = await runWorkload(c, history, {
      clients: 4, keys: ['d1', 'd2', 'd3'], opsPerClient: 40, durationMs: 6000, timeoutMs: 8000,
    })
    // The service continues (slower): on average every client got at least one answer.
    expect(r.ok, `errors: ${JSON.stringify([...r.errors])}`).toBeGreaterThanOrEqual(4)
    expectLinearizable(history)
  })

  it('raft with --delay-ms 30 and --drop-rate low: concurrent clients get linearizable answers', { timeout: 150_000 }, async (ctx) => {
    const c = await startCluster(ctx, { name: 'delay', basePort: 21450, nodeFlags: ['--delay-ms', '30', '--drop-rate', 'low'] })
    await c.waitForLeader({ timeoutMs: 45_000 })
    const history = new HistoryRecorder()
    const r = await runWorkload(c, history, { clients: 4, keys: ['d1', 'd2', 'd3'], opsPerClient: 40, durationMs: 6000, timeoutMs: 8000 })
    expect(r.ok, `errors: ${JSON.stringify([...r.errors])}`).toBeGreaterThanOrEqual(4)
    expectLinearizable(history)
  })
})
