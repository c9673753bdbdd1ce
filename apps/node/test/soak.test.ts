/**
 * `pnpm soak` end to end, short: one protocol, 5 replicas (f=2), ~25 s of load under the nemesis
 * (seeded), then its summary read back from `--json`. Needs root and iptables, like the
 * partition tests. Ports 23900+, host group 239 (`pnpm soak` itself defaults to 23500/23600
 * and 231/232, so a soak running beside the suite does not collide).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { RunSummary } from '../soak/summary.js'
import { repoRoot } from './harness.js'

function runSoak(args: readonly string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=@kv/source', '--import', 'tsx', path.join(repoRoot, 'apps/node/soak/cli.ts'), ...args], {
    cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  // SIGINT first: the soak removes its firewall rules and replicas on its way out.
  const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs)
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

describe('pnpm soak', () => {
  it('raft, 25 s under the nemesis: faults happen, the history is linearizable, the replicas agree, exit 0', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kv-soak-test-'))
    try {
      const json = path.join(dir, 'summary.json')
      const r = await runSoak(['--minutes', '0.42', '--protocol', 'raft', '--clients', '3', '--seed', '1', '--base-port', '23900', '--host-group', '239', '--json', json], 100_000)
      const output = `${r.stdout}\n${r.stderr}`
      expect(r.code, output).toBe(0)
      expect(r.stdout).toMatch(/^t=\d+\.\ds (SIGKILL|SIGSTOP|SIGTERM|partition|drops)/m)
      expect(r.stdout).toContain('verdict: LINEARIZABLE')

      const summary = JSON.parse(readFileSync(json, 'utf8')) as { seed: number; pass: boolean; runs: RunSummary[] }
      expect(summary).toMatchObject({ seed: 1, pass: true })
      const [run] = summary.runs
      expect(run).toMatchObject({ protocol: 'raft', verdict: 'LINEARIZABLE', digestsEqual: true, anomalies: [], pass: true })
      const faults = run!.faults.filter((f) => f.kind !== 'none').reduce((n, f) => n + f.count, 0)
      expect(faults, output).toBeGreaterThanOrEqual(3)
      expect(run!.ops.ok).toBeGreaterThan(100)
      expect(run!.digests).toHaveLength(1)
      expect(run!.digests[0]!.replicas.map((x) => x.digest)).toEqual(Array(5).fill(run!.digests[0]!.replicas[0]!.digest))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
