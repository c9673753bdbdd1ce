/**
 * Reading a check's outcome (pure). The distinction that matters: a check that FAILED on a
 * mutant caught it; a check that could not run (a file that does not load, a tool crash)
 * proves nothing and is reported as an error, never as caught.
 */
import type { CheckRun, CheckVerdict, MutationStatus } from './types.js'

/** The part of vitest's JSON report read here. */
export interface VitestReport {
  readonly numTotalTests: number
  readonly numPassedTests: number
  readonly numFailedTests: number
  readonly numFailedTestSuites: number
  readonly testResults: ReadonlyArray<{
    readonly name: string
    readonly status: string
    readonly message?: string
    readonly assertionResults: ReadonlyArray<{
      readonly fullName: string
      readonly status: string
      readonly failureMessages?: readonly string[]
    }>
  }>
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '')
}

/** The first non-empty line of `text`, without colours, at most `max` characters. */
export function firstLine(text: string, max = 160): string {
  const line = stripAnsi(text).split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? ''
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}

/** The last `lines` non-empty lines of an output, without colours (for error messages). */
export function tail(text: string, lines = 8): string {
  return stripAnsi(text).split('\n').filter((l) => l.trim().length > 0).slice(-lines).join('\n')
}

export function isVitestReport(x: unknown): x is VitestReport {
  if (typeof x !== 'object' || x === null) return false
  const r = x as Record<string, unknown>
  return typeof r.numFailedTests === 'number' && typeof r.numPassedTests === 'number' && Array.isArray(r.testResults)
}

/**
 * One vitest run: `report` is its JSON report (null if it wrote none), `exitCode` its status,
 * `output` what it printed.
 */
export function classifyVitest(report: VitestReport | null, exitCode: number | null, output: string): CheckVerdict {
  if (report === null) return { kind: 'error', detail: `vitest wrote no report (exit ${exitCode}): ${firstLine(tail(output, 3))}` }
  if (report.numFailedTests > 0) {
    const failed = report.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === 'failed'))
    const first = failed[0]
    const why = first?.failureMessages?.[0]
    return { kind: 'failed', detail: first === undefined ? 'a test failed' : `${first.fullName}${why === undefined ? '' : `: ${firstLine(why)}`}` }
  }
  const broken = report.testResults.find((f) => f.status === 'failed')
  if (report.numFailedTestSuites > 0 || broken !== undefined) {
    const where = broken === undefined ? 'a test file' : broken.name
    return { kind: 'error', detail: `${where} failed outside its tests: ${firstLine(broken?.message ?? tail(output, 3))}` }
  }
  if (exitCode !== 0) {
    // Every test passed, yet vitest failed the run: an error thrown by the code under test
    // outside any test (a timer, an unhandled rejection). The run did notice the mutant.
    return { kind: 'failed', detail: `vitest exited ${exitCode} with no failing test (an unhandled error): ${firstLine(tail(output, 3))}` }
  }
  if (report.numPassedTests === 0) return { kind: 'error', detail: 'no test ran: does the -t filter match a test name?' }
  return { kind: 'passed', tests: report.numPassedTests }
}

export interface Outcome {
  readonly status: MutationStatus
  /** The check that caught the mutant: the first that failed or timed out. */
  readonly catcher: CheckRun | null
  readonly detail: string | null
}

/**
 * A mutant's fate from the checks run on it, in order: caught by the first that failed (or
 * hung); otherwise an error if any check could not run (it might have caught it); otherwise
 * survived. No check run at all (every one failed its baseline) is an error too.
 */
export function mutationOutcome(runs: readonly CheckRun[]): Outcome {
  const catcher = runs.find((r) => r.verdict.kind === 'failed' || r.verdict.kind === 'timeout')
  if (catcher !== undefined) {
    const v = catcher.verdict
    return { status: 'caught', catcher, detail: v.kind === 'failed' || v.kind === 'timeout' ? v.detail : null }
  }
  const broken = runs.find((r) => r.verdict.kind === 'error')
  if (broken !== undefined && broken.verdict.kind === 'error') {
    return { status: 'error', catcher: null, detail: `${broken.label}: ${broken.verdict.detail}` }
  }
  if (runs.length === 0) return { status: 'error', catcher: null, detail: 'no check could run (every one failed on the unmutated tree)' }
  return { status: 'survived', catcher: null, detail: null }
}

/** A line the simulator prints for a failing seed. */
export function simFailingSeed(line: string): number | null {
  const m = /^FAIL seed=(\d+)\b/.exec(line)
  return m === null ? null : Number(m[1])
}

const LOAD_ERROR = /SyntaxError|TransformError|ERR_MODULE_NOT_FOUND|ERR_PACKAGE_PATH_NOT_EXPORTED|Cannot find (module|package)|ERR_UNKNOWN_FILE_EXTENSION/

/**
 * One `sim --seeds N` run starting at seed `start`: caught when it names a failing seed or
 * reports `failed>0`; a crash is caught too (an assertion in the code under test) unless it is
 * a failure to load the code at all.
 */
export function classifySim(stdout: string, stderr: string, exitCode: number | null, start = 1): CheckVerdict {
  const lines = stdout.split('\n')
  const failLine = lines.find((l) => simFailingSeed(l) !== null)
  if (failLine !== undefined) {
    const seed = simFailingSeed(failLine)!
    const problem = lines[lines.indexOf(failLine) + 1]?.trim() ?? ''
    return { kind: 'failed', seedsRun: seed - start + 1, detail: `seed ${seed}: ${firstLine(problem)}` }
  }
  const summary = lines.map((l) => /^seeds=(\d+) failed=(\d+) unknown=(\d+)/.exec(l)).find((m) => m !== null)
  if (summary != null) {
    const failed = Number(summary[2])
    if (failed > 0) return { kind: 'failed', detail: `failed=${failed}` }
    if (exitCode === 0) return { kind: 'passed' }
  }
  if (exitCode === 0) return { kind: 'error', detail: 'the simulator printed no summary line' }
  const errorLine = stripAnsi(stderr).split('\n').find((l) => /\b\w*Error\b/.test(l)) ?? firstLine(tail(stderr, 3))
  if (LOAD_ERROR.test(stderr)) return { kind: 'error', detail: `the simulator could not load: ${firstLine(errorLine)}` }
  return { kind: 'failed', detail: `the simulator crashed (exit ${exitCode}): ${firstLine(errorLine)}` }
}
