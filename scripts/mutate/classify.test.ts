import { describe, expect, it } from 'vitest'
import { classifySim, classifyVitest, mutationOutcome, type VitestReport } from './classify.js'
import type { CheckRun, CheckVerdict } from './types.js'

const report = (over: Partial<VitestReport>): VitestReport => ({
  numTotalTests: 3,
  numPassedTests: 3,
  numFailedTests: 0,
  numFailedTestSuites: 0,
  testResults: [{ name: '/t/a.test.ts', status: 'passed', message: '', assertionResults: [] }],
  ...over,
})

describe('classifyVitest', () => {
  it('a failing test is a failure, named with its first message line', () => {
    const r = report({
      numPassedTests: 2,
      numFailedTests: 1,
      testResults: [
        {
          name: '/t/a.test.ts',
          status: 'failed',
          assertionResults: [{ fullName: 'log commits', status: 'failed', failureMessages: ['AssertionError: expected 1 to be 2\n  at x'] }],
        },
      ],
    })
    expect(classifyVitest(r, 1, '')).toEqual({ kind: 'failed', detail: 'log commits: AssertionError: expected 1 to be 2' })
  })

  it('a file that does not load is an error, not a catch', () => {
    const r = report({
      numTotalTests: 0,
      numPassedTests: 0,
      numFailedTestSuites: 1,
      testResults: [{ name: '/t/a.test.ts', status: 'failed', message: '\u001b[31mTransform failed\u001b[0m with 1 error', assertionResults: [] }],
    })
    expect(classifyVitest(r, 1, '')).toEqual({ kind: 'error', detail: '/t/a.test.ts failed outside its tests: Transform failed with 1 error' })
  })

  it('no report, or no test run, is an error', () => {
    expect(classifyVitest(null, 1, 'boom').kind).toBe('error')
    expect(classifyVitest(report({ numPassedTests: 0 }), 0, '')).toMatchObject({ kind: 'error', detail: expect.stringMatching(/-t filter/) })
  })

  it('a failed run with every test passing (an unhandled error) is a failure', () => {
    expect(classifyVitest(report({}), 1, 'Unhandled Error: late\n').kind).toBe('failed')
  })

  it('passes with the number of tests', () => {
    expect(classifyVitest(report({}), 0, '')).toEqual({ kind: 'passed', tests: 3 })
  })
})

describe('classifySim', () => {
  it('the first FAIL line gives the seeds it took', () => {
    const out = 'FAIL seed=4 protocol=raft replicas=3\n  linearizability: illegal\n'
    expect(classifySim(out, '', null)).toEqual({ kind: 'failed', seedsRun: 4, detail: 'seed 4: linearizability: illegal' })
  })

  it('reads the summary line', () => {
    expect(classifySim('wall=1s\nseeds=20 failed=0 unknown=1\n', '', 0)).toEqual({ kind: 'passed' })
    expect(classifySim('seeds=20 failed=2 unknown=0\n', '', 1)).toMatchObject({ kind: 'failed' })
  })

  it('a crash of the code under test is a failure; code that does not load is an error', () => {
    expect(classifySim('', 'InvariantError: commit 5 > last 4\n    at ...', 1)).toMatchObject({ kind: 'failed' })
    expect(classifySim('', 'SyntaxError: Unexpected token\n', 1)).toMatchObject({ kind: 'error' })
    expect(classifySim('', "Error [ERR_MODULE_NOT_FOUND]: Cannot find module 'x'\n", 1)).toMatchObject({ kind: 'error' })
  })
})

describe('mutationOutcome', () => {
  const run = (label: string, verdict: CheckVerdict): CheckRun => ({ label, verdict, ms: 10 })

  it('is caught by the first check that failed or hung', () => {
    const o = mutationOutcome([run('a', { kind: 'passed' }), run('b', { kind: 'timeout', detail: 'hung' }), run('c', { kind: 'failed', detail: 'x' })])
    expect(o).toMatchObject({ status: 'caught', catcher: { label: 'b' } })
  })

  it('is an error when nothing caught it and a check could not run', () => {
    expect(mutationOutcome([run('a', { kind: 'passed' }), run('b', { kind: 'error', detail: 'no load' })])).toMatchObject({ status: 'error', detail: 'b: no load' })
    expect(mutationOutcome([]).status).toBe('error')
  })

  it('survives when every check passed', () => {
    expect(mutationOutcome([run('a', { kind: 'passed' })]).status).toBe('survived')
  })
})
