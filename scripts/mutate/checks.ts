/**
 * Running one check in a scratch tree: vitest on named files, or the simulator's fuzzer.
 * Each runs as its own process group, so a timeout (or the sim's first failing seed)
 * stops the tool and every worker it forked.
 */
import { spawn } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { classifySim, classifyVitest, isVitestReport, simFailingSeed, type VitestReport } from './classify.js'
import { checkLabel } from './table.js'
import type { Check, CheckRun, SimCheck, VitestCheck } from './types.js'

/** Output kept per process, from the end (enough for error lines and the sim's summary). */
const MAX_OUTPUT_CHARS = 256 * 1024

interface Finished {
  readonly exitCode: number | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
  readonly ms: number
}

interface SpawnOptions {
  readonly cwd: string
  readonly timeoutMs: number
  /** Called for each stdout line; returning true stops the process (the answer is known). */
  readonly onLine?: (line: string) => boolean
}

function keepTail(text: string): string {
  return text.length > MAX_OUTPUT_CHARS ? text.slice(-MAX_OUTPUT_CHARS) : text
}

/** Process groups of the checks running now (stopped by `stopAllChecks` on SIGINT). */
const running = new Set<number>()

/** Kills every check still running, with all its workers. */
export function stopAllChecks(): void {
  for (const pid of running) killGroup(pid)
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

function runProcess(args: readonly string[], options: SpawnOptions): Promise<Finished> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      detached: true, // its own process group: killGroup reaches vitest's workers too
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', CI: '1' },
    })
    if (child.pid !== undefined) running.add(child.pid)
    let stdout = ''
    let stderr = ''
    let pending = ''
    let timedOut = false
    let stopped = false
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(child.pid)
    }, options.timeoutMs)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout = keepTail(stdout + chunk)
      if (options.onLine === undefined || stopped) return
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const line of lines) {
        if (options.onLine(line)) {
          stopped = true
          killGroup(child.pid)
          return
        }
      }
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = keepTail(stderr + chunk)
    })
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      killGroup(child.pid) // leftovers of the group (workers outliving their parent)
      if (child.pid !== undefined) running.delete(child.pid)
      resolve({ exitCode: code, stdout, stderr, timedOut, ms: performance.now() - t0 })
    })
  })
}

async function runVitest(dir: string, check: VitestCheck, timeoutMs: number): Promise<CheckRun> {
  const label = checkLabel({ kind: 'vitest', check })
  // Inside the scratch tree (removed with it); deleted first so that a run that writes no
  // report is never read as the previous run's.
  const reportFile = path.join(dir, '.kv-mutate-report.json')
  await rm(reportFile, { force: true })
  try {
    const args = [
      path.join(dir, 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      ...check.files,
      ...(check.name === undefined ? [] : ['-t', check.name]),
      '--bail=1',
      '--reporter=dot',
      '--reporter=json',
      `--outputFile.json=${reportFile}`,
    ]
    const done = await runProcess(args, { cwd: dir, timeoutMs })
    if (done.timedOut) return { label, ms: done.ms, verdict: { kind: 'timeout', detail: `no verdict within ${Math.round(timeoutMs / 1000)}s` } }
    let report: VitestReport | null = null
    try {
      const parsed: unknown = JSON.parse(await readFile(reportFile, 'utf8'))
      if (isVitestReport(parsed)) report = parsed
    } catch {
      report = null
    }
    return { label, ms: done.ms, verdict: classifyVitest(report, done.exitCode, `${done.stdout}\n${done.stderr}`) }
  } finally {
    await rm(reportFile, { force: true })
  }
}

async function runSim(dir: string, check: SimCheck, timeoutMs: number): Promise<CheckRun> {
  const label = checkLabel({ kind: 'sim', check })
  // What `pnpm sim` runs, without pnpm in between.
  const args = ['--conditions=@kv/source', '--import', 'tsx', 'packages/sim/src/cli.ts', '--protocol', check.protocol, '--seeds', String(check.seeds)]
  // The first failing seed is the answer: stop there instead of running the rest.
  const done = await runProcess(args, { cwd: dir, timeoutMs, onLine: (line) => simFailingSeed(line) !== null })
  if (done.timedOut) return { label, ms: done.ms, verdict: { kind: 'timeout', detail: `no verdict within ${Math.round(timeoutMs / 1000)}s` } }
  return { label, ms: done.ms, verdict: classifySim(done.stdout, done.stderr, done.exitCode) }
}

export function runCheck(dir: string, check: Check, timeoutMs: number): Promise<CheckRun> {
  return check.kind === 'vitest' ? runVitest(dir, check.check, timeoutMs) : runSim(dir, check.check, timeoutMs)
}
