import { defineConfig } from 'tsup'

// @kv/protocol and @kv/transport-tcp are published packages of their own and real
// dependencies of the client (not bundled into it).
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
})
