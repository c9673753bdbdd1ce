import { defineConfig } from 'vitest/config'

// One vitest run over the whole workspace. The "@kv/source" condition resolves each
// workspace package to its src/index.ts, so tests need no build step.
export default defineConfig({
  resolve: { conditions: ['@kv/source'] },
  ssr: { resolve: { conditions: ['@kv/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'apps/*/soak/**/*.test.ts', 'scripts/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The process tests start `kv` from one bundle of the sources, made once per run.
    globalSetup: ['apps/node/test/global-setup.ts'],
  },
})
