/**
 * One real row end to end, kept short (a 3-replica Raft cluster, 1 s of writes): the cluster
 * starts from the bundle, the load generator drives it, CPU is read from /proc, and the result
 * passes its schema. Ports 24000–24039.
 */
import { describe, expect, it } from 'vitest'
import { parseBenchArgs } from './flags.js'
import { renderHtml } from './html.js'
import { checkResult } from './result.js'
import { runBench } from './run.js'
import { formatReport } from './table.js'

describe('pnpm bench, smoke', () => {
  it('measures a real 3-replica cluster and reports it', { timeout: 15_000 }, async () => {
    const o = parseBenchArgs([
      '--protocol', 'raft', '--scenario', 'write', '--value-bytes', '100', '--concurrency', '16',
      '--seconds', '1', '--warmup', '0.2', '--records', '200', '--compare', 'none', '--no-progress',
    ])
    const result = checkResult(await runBench(o))
    expect(result.rows).toHaveLength(1)
    const row = result.rows[0]!
    expect(row.id).toBe('kv-raft-g1/write/100/c16')
    expect(row.ops).toBeGreaterThan(0)
    expect(row.errors).toBe(0)
    expect(row.latencyMs!.p50).toBeGreaterThan(0)
    // Three replicas and the load generator, one of the replicas leading.
    expect(row.cpu.processes.map((p) => p.role).sort()).toEqual(['follower', 'follower', 'leader', 'load-generator'])
    expect(row.cpu.serverCores).toBeGreaterThan(0)
    expect(formatReport(result)).toMatch(/write\s+100 B\s+16\s+kv Raft/)
    expect(renderHtml(result)).toContain('data-row="kv-raft-g1/write/100/c16"')
  })
})
