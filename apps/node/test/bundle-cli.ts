/**
 * Bundles the `kv` command from the workspace sources into one ES module for the process
 * tests (vitest's global setup), so that each of the suite's few hundred `kv node` processes
 * starts as plain Node.js: through tsx every start compiled the sources again, about 0.6 s of
 * CPU each, and on a 2-core machine that time was taken from the clusters under test.
 *
 * The bundle holds every `@kv/*` package (resolved through the `@kv/source` condition, so it is
 * always the current source: no build step, nothing stale) and leaves the npm dependencies
 * outside: they resolve from `apps/node`, whose package.json lists each of them.
 */
import { build, type Plugin } from 'esbuild'
import { fileURLToPath } from 'node:url'

const nodeApp = fileURLToPath(new URL('..', import.meta.url))
/** Where the bundle goes: inside `apps/node`, so `../package.json` and its dependencies resolve as from `src/`. */
export const bundledCliPath = `${nodeApp}.test-bin/kv.mjs`

/** npm packages stay outside the bundle; the workspace's own packages go in. */
const npmPackagesExternal: Plugin = {
  name: 'npm-packages-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@kv/') ? undefined : { path: args.path, external: true }))
  },
}

/** Writes the bundle (to `.test-bin/<fileName>`, default kv.mjs) and returns its path. */
export async function bundleCli(fileName?: string): Promise<string> {
  const outfile = fileName === undefined ? bundledCliPath : `${nodeApp}.test-bin/${fileName}`
  await build({
    entryPoints: [`${nodeApp}src/cli.ts`],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@kv/source'],
    plugins: [npmPackagesExternal],
    sourcemap: true,
    logLevel: 'warning',
  })
  return outfile
}
