import { defineConfig } from 'tsup'

// The `kv` command, built to plain ESM (the published bin): no tsx, no compile at start-up.
// Its @kv/* imports resolve to the published packages' builds.
export default defineConfig({
  entry: ['src/cli.ts'],
  format: ['esm'],
  dts: false,
  clean: true,
  sourcemap: true,
  target: 'node20',
})
