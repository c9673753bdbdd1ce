/**
 * The `kv` command as one ES module, bundled once per bench run, so each replica starts as
 * plain Node.js (through tsx every start compiles the sources again). The same recipe as
 * the process tests' bundle (apps/node/test/bundle-cli.ts): every `@kv/*` package from its
 * sources, npm packages left outside to resolve from `apps/node`. Its own file, so a bench
 * never rewrites the bundle a running test suite starts its replicas from.
 */
import { build, type Plugin } from 'esbuild'
import { fileURLToPath } from 'node:url'

const nodeApp = fileURLToPath(new URL('../../../node/', import.meta.url))
/** Inside `apps/node` (ignored by git, like the tests' bundle), so its dependencies resolve as from `src/`. */
export const benchCliPath = `${nodeApp}.test-bin/kv-bench.mjs`

const npmPackagesExternal: Plugin = {
  name: 'npm-packages-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@kv/') ? undefined : { path: args.path, external: true }))
  },
}

let bundle: Promise<string> | null = null

export function kvBundle(): Promise<string> {
  bundle ??= build({
    entryPoints: [`${nodeApp}src/cli.ts`],
    outfile: benchCliPath,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@kv/source'],
    plugins: [npmPackagesExternal],
    sourcemap: true,
    logLevel: 'warning',
  }).then(() => benchCliPath)
  return bundle
}
