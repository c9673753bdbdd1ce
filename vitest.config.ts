import { defineConfig } from 'vitest/config'
import { SlowestFirstSequencer } from './scripts/test-order.js'

// One vitest run over the whole workspace, in two groups. The "@kv/source" condition resolves
// each workspace package to its src/index.ts, so tests need no build step.
//
//  1. "unit": pure code, cores, the simulator, storage, transport — CPU-bound, two files at a
//     time (one per core).
//  2. "process": real `kv node` processes on 127.0.0.1 (apps/node/test, the bench's smoke run),
//     one file at a time after the first group: their clusters need the machine's cores to
//     themselves (two such files side by side starved each other's elections). Files run their
//     own clusters concurrently where it is safe (`describe.concurrent`).
const shared = {
  resolve: { conditions: ['@kv/source'] },
  ssr: { resolve: { conditions: ['@kv/source'] } },
}
const processTests = ['apps/node/test/**/*.test.ts', 'apps/bench/src/smoke.test.ts']
// Projects do not inherit the root's test options: each gets these.
const testDefaults = { testTimeout: 60_000, hookTimeout: 60_000, pool: 'forks' } as const

export default defineConfig({
  ...shared,
  test: {
    // Within each group, the slowest process test files first (scripts/test-order.ts).
    sequence: { sequencer: SlowestFirstSequencer },
    projects: [
      {
        ...shared,
        test: {
          ...testDefaults,
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'apps/*/soak/**/*.test.ts', 'scripts/**/*.test.ts'],
          exclude: processTests,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        ...shared,
        test: {
          ...testDefaults,
          name: 'process',
          include: processTests,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
          // The process tests start `kv` from one bundle of the sources, made once per run.
          globalSetup: ['apps/node/test/global-setup.ts'],
        },
      },
    ],
  },
})
