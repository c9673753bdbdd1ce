/**
 * Loss of one kind of message at a time (`kv node --drop-rate high --drop-kinds K`) on every
 * replica: the service continues (slower) and the history is linearizable.
 */
import { HistoryRecorder } from '@kv/sim'
import { describe, expect, it } from 'vitest'
import { expectLinearizable, startCluster } from './harness.js'
import { runWorkload } from './workload.js'

describe.concurrent('dropping one kind of message', () => {
  it.for([
    { protocol: 'raft', kind: 'client-request', basePort: 21500 },
    { protocol: 'raft', kind: 'append', basePort: 21510 },
    { protocol: 'raft', kind: 'vote', basePort: 21520 },
    { protocol: 'raft', kind: 'client-reply', basePort: 21530 },
    { protocol: 'paxos', kind: 'append', basePort: 21540 },
  ] as const)('$protocol with 30% of $kind messages dropped keeps serving linearizably', { timeout: 150_000 }, async ({ protocol, kind, basePort }, ctx) => {
    const c = await startCluster(ctx, {
      name: `kinds-${protocol}-${kind}`, basePort, protocol, nodeFlags: ['--drop-rate', 'high', '--drop-kinds', kind],
    })
    await c.waitForLeader({ timeoutMs: 45_000 })
    const history = new HistoryRecorder()
    const r = await runWorkload(c, history, {
      clients: 3, keys: ['k1', 'k2', 'k3'], opsPerClient: 30, durationMs: 6000, timeoutMs: 8000,
    })
    // The service continues (slower): on average every client got at least one answer.
    expect(r.ok, `errors: ${JSON.stringify([...r.errors])}`).toBeGreaterThanOrEqual(3)
    expectLinearizable(history)
  })
})
