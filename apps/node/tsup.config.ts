import { defineConfig } from 'tsup'

// The `kv` command, built to plain ESM (the published bin): no tsx, no compile at start-up.
// Pure-JS dependencies are bundled into the bin's chunks (fewer files to resolve and read at
// start); lmdb (native), msgpackr (optional native extension) and pino (worker transports) stay
// external, as installed.
export default defineConfig({
  entry: ['src/cli.ts'],
  format: ['esm'],
  dts: false,
  clean: true,
  sourcemap: true,
  target: 'node20',
  noExternal: [/^@kv\//, 'commander', 'zod', 'prom-client', 'sorted-btree', 'node-forge'],
  external: ['lmdb', 'msgpackr', 'pino'],
  banner: { js: "import { createRequire as __kvCreateRequire } from 'node:module'; const require = __kvCreateRequire(import.meta.url);" },
})
