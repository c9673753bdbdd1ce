import { defineConfig } from 'tsup'

// @kv/protocol and @kv/transport-tcp are not published: they are bundled into the client
// (from their sources, through the "@kv/source" condition), code and types alike. msgpackr
// and zod stay real dependencies.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: { compilerOptions: { customConditions: ['@kv/source'] } },
  clean: true,
  sourcemap: true,
  target: 'node20',
  noExternal: [/^@kv\//],
  external: ['msgpackr', 'zod'],
  esbuildOptions(options) {
    options.conditions = ['@kv/source', ...(options.conditions ?? [])]
  },
})
