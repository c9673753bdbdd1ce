import { spawn } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { text, useTempDir } from './fixtures/tmp.js'
import { Wal } from './wal/wal.js'

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'crash-writer.ts')
const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..', '..')

/** Runs the writer until it acknowledged `acks` writes, SIGKILLs it, returns the acknowledged indexes. */
function runAndKill(walDir: string, acks: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@kv/source', '--import', 'tsx', FIXTURE, walDir, '16'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const acked: number[] = []
    let buffered = ''
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        const m = /^ack (\d+)$/.exec(line)
        if (m !== null) acked.push(Number(m[1]))
      }
      if (acked.length >= acks && child.exitCode === null && !child.killed) child.kill('SIGKILL')
    })
    child.on('error', reject)
    child.on('exit', (_code, signal) => {
      if (signal === 'SIGKILL') resolve(acked)
      else reject(new Error(`writer exited by itself (${String(_code)}): ${stderr}`))
    })
  })
}

describe('crash safety', () => {
  let dir = ''
  useTempDir((d) => (dir = d))

  it('every write acknowledged before SIGKILL is there after reopen, across repeated crashes', async () => {
    const walDir = path.join(dir, 'wal')
    const everAcked: number[] = []
    for (let round = 1; round <= 3; round++) {
      const acked = await runAndKill(walDir, 300)
      expect(acked.length).toBeGreaterThanOrEqual(300)
      everAcked.push(...acked)
      const { wal, state } = await Wal.open(walDir, { maxSegmentBytes: 16 * 1024 })
      const byIndex = new Map(state.entries.map((e) => [e.index, e]))
      const missing = everAcked.filter((index) => {
        const entry = byIndex.get(index)
        return entry?.type !== 'normal' || !text(entry.data)?.startsWith(`entry-${index}-`)
      })
      expect(missing).toEqual([])
      expect(state.hardState?.commit).toBeGreaterThanOrEqual(Math.max(...acked))
      expect(wal.stats().segments).toBeGreaterThan(1)
      await wal.close()
    }
  })
})
