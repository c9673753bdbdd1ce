/**
 * A replica that was down while the others took a snapshot larger than one transport frame
 * (16 MiB) catches up by that snapshot, sent in chunks: before chunked transfer, the whole
 * snapshot went in one message, which the frame limit cut off at every try, forever.
 *
 * The test writes > 16 MiB of values (40 × 512 KiB), then enough small writes for the leader
 * to take a snapshot (the config's `snapshotEveryEntries`, lowered to 1,000 here); the
 * stopped replica then restarts and must reach the leader's applied index and data digest.
 */
import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { type ProcessCluster, startCluster, waitFor } from './harness.js'

const MiB = 1024 * 1024
const frameBytes = 16 * MiB
/** The cluster's `snapshotEveryEntries` (the default is 10,000). */
const snapshotEveryEntries = 1000

/** The snapshot files in a replica's data folder, newest last: `{ index, bytes }`. */
function snapshotFiles(c: ProcessCluster, id: string): { index: number; bytes: number }[] {
  const dir = path.join(c.dataDir(id), 'snap')
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names
    .filter((n) => /^[0-9a-f]{16}-[0-9a-f]{16}\.snap$/.test(n))
    .map((n) => ({ index: parseInt(n.slice(0, 16), 16), bytes: statSync(path.join(dir, n)).size }))
    .sort((a, b) => a.index - b.index)
}

describe('catch-up by a snapshot larger than a frame', () => {
  it.for([
    { protocol: 'raft', basePort: 22400 },
    { protocol: 'paxos', basePort: 22410 },
  ] as const)('$protocol: a replica restarted after the others snapshotted > 16 MiB catches up by chunks', { timeout: 150_000 }, async ({ protocol, basePort }, ctx) => {
    const c = await startCluster(ctx, {
      name: `snapshot-catch-up-${protocol}`, basePort, protocol, configure: (config) => ({ ...config, snapshotEveryEntries }),
    })
    const leader = await c.waitForLeader()
    const lagging = c.ids.find((id) => id !== leader)!
    await c.kill(lagging, 'SIGKILL')

    // > 16 MiB of state: 40 values of 512 KiB.
    const kv = c.client({ timeoutMs: 20_000 })
    const big = (i: number) => `${i}:`.padEnd(512 * 1024, String.fromCharCode(97 + (i % 26)))
    for (let i = 0; i < 40; i++) await kv.put(`big-${i}`, big(i))

    // Then enough entries for a snapshot: concurrent small writes, one entry per Ready cycle.
    const writeStart = Date.now()
    let done = false
    const writers = Array.from({ length: 16 }, async (_, w) => {
      const client = c.client({ timeoutMs: 20_000 })
      for (let n = 0; !done; n++) await client.put(`small-${w}`, `${n}`)
    })
    const probe = c.client({ timeoutMs: 2000 })
    const snapshot = await waitFor('a snapshot on the leader above one frame', async () => {
      const s = await c.status(leader, probe)
      if (s === null || s.appliedIndex < snapshotEveryEntries) return undefined
      return snapshotFiles(c, leader).find((f) => f.bytes > frameBytes)
    }, 90_000, 500)
    done = true
    await Promise.all(writers)
    // The snapshot file appears before the replicas' logs are compacted (the core drops its
    // entries once the whole save, LMDB flush included, is done): until then a leader would
    // rightly catch the lagging replica up with entries. Wait for every replica that runs.
    await waitFor('the running replicas to compact their logs past the snapshot', async () => {
      const rows = await Promise.all(c.running().map((id) => c.status(id, probe)))
      return rows.every((r) => r !== null && (r.firstIndex ?? 0) > snapshotEveryEntries) ? true : undefined
    }, 30_000, 200)
    const writeMs = Date.now() - writeStart
    expect(snapshot.bytes).toBeGreaterThan(frameBytes)

    // The lagging replica returns; its log ends before the leader's snapshot.
    const catchUpStart = Date.now()
    c.startNode(lagging)
    const index = await c.waitForConvergence(c.ids, 60_000)
    const catchUpMs = Date.now() - catchUpStart
    expect(index).toBeGreaterThanOrEqual(snapshot.index)
    const { readFileSync: rf } = await import('node:fs')
    for (const id of c.ids) for (const l of rf(c.logPath(id), 'utf8').split('\n').filter((x) => x.includes('DBG'))) console.log('DEBUGX', id, l.slice(0, 300))
    const received = snapshotFiles(c, lagging).at(-1)
    expect(received?.bytes).toBeGreaterThan(frameBytes)
    expect(received!.index).toBeGreaterThanOrEqual(snapshot.index)
    expect((await kv.get('big-39'))?.length).toBe(512 * 1024)
    console.log(`${protocol}: snapshot ${(snapshot.bytes / MiB).toFixed(1)} MiB at index ${snapshot.index} (writes ${writeMs} ms); ` +
      `${lagging} caught up to index ${index} in ${catchUpMs} ms`)
  })
})
