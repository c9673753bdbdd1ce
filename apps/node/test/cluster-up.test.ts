/**
 * `kv cluster up`: a whole local cluster as child processes with load clients, stopping by
 * itself after --duration: it prints a leader line while it runs and, at exit, the status
 * table and "replicas agree"; no replica outlives it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { kvNodeArgs, repoRoot, runKv, sleep, waitFor } from './harness.js'

let dir = ''

/** Pids of processes whose command line mentions `text` (read from /proc; Linux). */
function pidsMentioning(text: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

afterEach(() => {
  if (dir === '') return
  // Replicas that `kv cluster up` started and failed to stop: SIGKILL them, one by one by pid.
  for (const pid of pidsMentioning(dir)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true })
  dir = ''
})

describe('kv cluster up', () => {
  it('runs a cluster with load for --duration, prints a leader line, the table at exit and "replicas agree"', { timeout: 90_000 }, async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kv-ptest-cluster-up-'))
    const data = path.join(dir, 'data')
    const r = await runKv(['cluster', 'up', '--fresh', '--dir', data, '--base-port', '21800', '--duration', '8', '--clients', '2'], 60_000)
    const show = `exit ${r.code} ${r.signal ?? ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`
    expect(r.code, show).toBe(0)
    expect(r.stdout, show).toMatch(/^cluster up: 3 replicas \(g1: raft\)/m)
    expect(r.stdout, show).toMatch(/^g1: leader g1-r[123] \(term \d+\)$/m)
    expect(r.stdout, show).toMatch(/^load: \d+ ok, \d+ failed$/m)
    expect(r.stdout, show).toMatch(/^GROUP\s+REPLICA\s+ADDRESS\s+ROLE\s+TERM\s+COMMIT\s+APPLIED\s+EPOCH\s+KEYS\s+DIGEST$/m)
    const rows = r.stdout.split('\n').filter((l) => /^g1\s+g1-r\d\s+127\.0\.0\.1:218\d\d\s/.test(l))
    expect(rows, show).toHaveLength(3)
    expect(rows.filter((l) => /\sleader\s/.test(l)), show).toHaveLength(1)
    expect(r.stdout, show).toMatch(/^replicas agree$/m)
    // The config it wrote holds the tokens: only its owner may read it.
    expect(statSync(path.join(data, 'cluster.json')).mode & 0o777).toBe(0o600)
    // The load clients did work: the last load line counts some answers.
    const loads = [...r.stdout.matchAll(/^load: (\d+) ok/gm)].map((m) => Number(m[1]))
    expect(Math.max(...loads), show).toBeGreaterThan(0)

    // Its replicas were stopped with it (SIGTERM; give them a moment to exit).
    for (let i = 0; i < 50 && pidsMentioning(data).length > 0; i++) await sleep(100)
    expect(pidsMentioning(data), 'replicas left running after kv cluster up exited').toEqual([])
  })

  it('a Ctrl-C to its terminal\'s process group prints every replica\'s digest (the replicas do not get the signal); a SIGKILLed cluster up takes its replicas with it', { timeout: 90_000 }, async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kv-ptest-cluster-up-'))
    const up = (data: string, port: number) => {
      // detached: a process group of its own, as a shell gives a foreground job.
      const child = spawn(process.execPath, [...kvNodeArgs, 'cluster', 'up', '--fresh', '--dir', data, '--base-port', String(port)], { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
      return { child, exited, stdout: () => stdout }
    }

    const first = up(path.join(dir, 'a'), 21810)
    await waitFor('a leader line', () => Promise.resolve(/^g1: leader /m.test(first.stdout()) ? true : undefined), 30_000, 100)
    process.kill(-first.child.pid!, 'SIGINT') // the whole group, as Ctrl-C does
    expect(await first.exited).toBe(0)
    const rows = first.stdout().split('\n').filter((l) => /^g1\s+g1-r\d\s/.test(l))
    expect(rows, first.stdout()).toHaveLength(3)
    expect(rows.filter((l) => /\sdown\s|\sdown$/.test(l)), first.stdout()).toEqual([])
    expect(first.stdout()).toMatch(/^replicas agree$/m)

    const second = up(path.join(dir, 'b'), 21820)
    await waitFor('a leader line', () => Promise.resolve(/^g1: leader /m.test(second.stdout()) ? true : undefined), 30_000, 100)
    second.child.kill('SIGKILL')
    await second.exited
    await waitFor('the replicas of a SIGKILLed cluster up to exit', () => Promise.resolve(pidsMentioning(path.join(dir, 'b')).length === 0 ? true : undefined), 15_000, 100)
  })
})
