/**
 * Regression tests for bugs the process tests found (see README.md in this folder).
 */
import { TimeoutError, UnavailableError } from '@kv/client'
import { HistoryRecorder } from '@kv/sim'
import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { generateConfig } from '../src/config.js'
import { attempt, errorCode, expectLinearizable, runKvUntil, startCluster, waitFor } from './harness.js'

describe('regressions', () => {
  // Was: with no majority, every live replica answers NOT_LEADER with no hint, and a 64-attempt
  // bound in @kv/client ran out after ~3 s, long before the deadline: NotLeaderError instead of
  // waiting to the deadline. Now the deadline ends a call; attempts are only a safety bound.
  it('with f+1 replicas dead and a long deadline, a write fails with TimeoutError, not NOT_LEADER', { timeout: 60_000 }, async (ctx) => {
    const c = await startCluster(ctx, { name: 'bug-not-leader', basePort: 21900, start: [] })
    c.startNode(c.id(0))
    await waitFor('the lone replica to listen', async () => ((await c.status(c.id(0), c.client())) !== null ? true : undefined))
    const history = new HistoryRecorder()
    const kv = c.recordingClient(history, 0)
    const r = await attempt(kv.put('nl', 'x', 8_000))
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error instanceof TimeoutError || r.error instanceof UnavailableError, `got ${errorCode(r.error)}: ${String(r.error)}`).toBe(true)
    expectLinearizable(history)
  })

  // Was: a data folder was checked only for its cluster id, so `kv node --id g1-r2 --data
  // <g1-r1's folder>` started and one log and one vote spoke for two replicas (quorum
  // intersection broken). Now the folder records its replica and refuses another.
  it('a node refuses the data folder of another replica of the same cluster', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kv-ptest-bug-folder-'))
    try {
      const configPath = path.join(dir, 'cluster.json')
      writeFileSync(configPath, JSON.stringify(generateConfig({ f: 1, groups: 1, protocol: 'raft', basePort: 21910, host: '127.0.0.1' })))
      const folder = path.join(dir, 'g1-r1')
      const owner = await runKvUntil(['--config', configPath, 'node', '--id', 'g1-r1', '--data', folder], 'replica serving')
      expect(owner.stdout).toContain('replica serving')
      const intruder = await runKvUntil(['--config', configPath, 'node', '--id', 'g1-r2', '--data', folder], 'replica serving')
      expect(intruder.stdout, 'g1-r2 started on the data folder of g1-r1').not.toContain('replica serving')
      expect(intruder.code).not.toBe(0)
      expect(intruder.stderr).toContain('g1-r1')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
