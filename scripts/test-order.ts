import path from 'node:path'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

/**
 * The process test files that take longest (seconds on this 2-core machine, from a CI run's
 * report), started first: two files run at a time, and a long file started last would run
 * alone at the end (longest-processing-time-first). Files not listed keep vitest's order after
 * them. A fresh clone has no timing cache for vitest to order by, so the list lives here.
 */
const slowestFirst = [
  'sharded.test.ts', // 98 s
  'sharded-steps.test.ts', // 44 s
  'paxos-loss.test.ts', // 42 s
  'membership.test.ts', // 35 s
  'watch.test.ts', // 35 s
  'crash.test.ts', // 34 s
  'soak.test.ts', // 29 s
  'partition.test.ts', // 26 s
]

export class SlowestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files)
    const rank = (f: TestSpecification): number => {
      const i = slowestFirst.indexOf(path.basename(f.moduleId))
      return i < 0 ? slowestFirst.length : i
    }
    // Array.prototype.sort is stable: equal ranks keep vitest's order.
    return [...sorted].sort((a, b) => rank(a) - rank(b))
  }
}
