/**
 * Paxos stays live under heavy message loss: a Raft group and a Paxos group, side by side, get
 * the same concurrent client load for the same time, each replica dropping 30 % of the frames
 * it sends (`--drop-rate high`). Both histories are linearizable, and Paxos completes at least
 * half as many operations as Raft (ports 22100–22132).
 *
 * With every frame lossy, a lost client request or reply costs the client a 1 s attempt
 * timeout, which dwarfs what the cores do; the second test loses only the frames between
 * replicas (`--drop-kinds append,vote`), where the cores' own recovery from loss decides
 * (there Paxos completes at least 0.8 of Raft's count).
 */
import { HistoryRecorder } from '@kv/sim'
import { expect, it, type TestContext } from 'vitest'
import { expectLinearizable, startCluster } from './harness.js'
import { runWorkload, type WorkloadResult } from './workload.js'

type Protocol = 'raft' | 'paxos'

interface Load {
  readonly name: string
  readonly basePort: number
  readonly nodeFlags: readonly string[]
  readonly clients: number
  readonly durationMs: number
}

const summary = (protocol: Protocol, r: WorkloadResult): string => `${protocol}: ${r.ok} ok, ${r.failed} failed ${JSON.stringify([...r.errors])}`

/** Runs the same load on a Raft and a Paxos group at once; checks both histories. */
async function sideBySide(ctx: TestContext, load: Load): Promise<Record<Protocol, WorkloadResult>> {
  const run = async (protocol: Protocol, basePort: number): Promise<[WorkloadResult, HistoryRecorder]> => {
    const c = await startCluster(ctx, { name: `${load.name}-${protocol}`, basePort, protocol, nodeFlags: load.nodeFlags })
    await c.waitForLeader({ timeoutMs: 30_000 })
    const history = new HistoryRecorder()
    const r = await runWorkload(c, history, {
      clients: load.clients, keys: ['l1', 'l2', 'l3', 'l4', 'l5', 'l6'], opsPerClient: 100_000, durationMs: load.durationMs, timeoutMs: 8000,
    })
    return [r, history]
  }
  const [[raft, raftHistory], [paxos, paxosHistory]] = await Promise.all([run('raft', load.basePort), run('paxos', load.basePort + 10)])
  console.log(`${load.name}: ${summary('raft', raft)}; ${summary('paxos', paxos)}`)
  expectLinearizable(raftHistory)
  expectLinearizable(paxosHistory)
  expect(raft.ok, summary('raft', raft)).toBeGreaterThan(0)
  return { raft, paxos }
}

it('at --drop-rate high, paxos completes at least half as many operations as raft, linearizably', { timeout: 90_000 }, async (ctx) => {
  const { raft, paxos } = await sideBySide(ctx, { name: 'loss', basePort: 22100, nodeFlags: ['--drop-rate', 'high'], clients: 10, durationMs: 20_000 })
  expect(paxos.ok, `${summary('paxos', paxos)}; ${summary('raft', raft)}`).toBeGreaterThanOrEqual(raft.ok / 2)
})

// Measured here: Paxos 1.2 to 2.9 times Raft's count; before Paxos resent lost Accepts within a
// tick (it waited for a heartbeat round without progress), 0.74 to 0.86 times, half its count now.
it('with 30 % of the frames between replicas dropped, paxos keeps up with raft, linearizably', { timeout: 90_000 }, async (ctx) => {
  const { raft, paxos } = await sideBySide(ctx, {
    name: 'peer-loss', basePort: 22120, nodeFlags: ['--drop-rate', 'high', '--drop-kinds', 'append,vote'], clients: 6, durationMs: 8_000,
  })
  expect(paxos.ok, `${summary('paxos', paxos)}; ${summary('raft', raft)}`).toBeGreaterThanOrEqual(raft.ok * 0.8)
})
