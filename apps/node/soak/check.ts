/** The history's verdict, and what is kept when it is not LINEARIZABLE. */
import { checkLinearizability, describeHistory, type CheckOptions, type CheckResult, type KvOperation } from '@kv/sim'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { RunSummary } from './summary.js'

const round1 = (x: number) => Math.round(x * 10) / 10

/** The checker's verdict; a history that is not found linearizable is saved beside the replica logs. */
export function checkHistory(ops: readonly KvOperation[], dir: string, options: CheckOptions = {}): Pick<RunSummary, 'verdict' | 'verdictDetail' | 'searchSteps' | 'checkSeconds'> {
  const start = performance.now()
  // The soak gives no options: the checker's default budget (10 M steps) suffices; measured
  // 10-minute histories of ~200 k ops take about 2.3 steps per op, 5 % of it (README.md).
  const check = checkLinearizability(ops, options)
  const checkSeconds = round1((performance.now() - start) / 1000)
  if (check.result !== 'ok') saveHistory(dir, ops, check)
  switch (check.result) {
    case 'ok':
      return { verdict: 'LINEARIZABLE', verdictDetail: null, searchSteps: check.searchSteps, checkSeconds }
    case 'illegal':
      return { verdict: 'NOT LINEARIZABLE', verdictDetail: `key ${check.key}: ${check.explanation}`, searchSteps: check.searchSteps, checkSeconds }
    case 'unknown':
      return { verdict: 'UNKNOWN', verdictDetail: check.reason, searchSteps: check.searchSteps, checkSeconds }
    default:
      return check satisfies never
  }
}

/** A failed check keeps what reproduces it: the whole history, and the failing partition described. */
function saveHistory(dir: string, ops: readonly KvOperation[], check: CheckResult): void {
  writeFileSync(path.join(dir, 'history.json'), JSON.stringify(ops, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v)))
  if (check.result === 'illegal') {
    writeFileSync(path.join(dir, 'not-linearizable.txt'), `${check.explanation}\n\n${describeHistory(check.ops)}\n`)
  }
}
