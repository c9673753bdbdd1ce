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
/**
 * Where a bundle goes: inside `apps/node` (ignored by git), so `../package.json` and its
 * dependencies resolve as from `src/`. Each user names its own file (the test suite `kv.mjs`,
 * the bench and the soak their own), so one never rewrites the file another is starting
 * replicas from.
 */
export const bundlePath = (name: string): string => `${nodeApp}.test-bin/${name}`

/** npm packages stay outside the bundle; the workspace's own packages go in. */
const npmPackagesExternal: Plugin = {
  name: 'npm-packages-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@kv/') ? undefined : { path: args.path, external: true }))
  },
}

/** Writes the bundle (to `.test-bin/<name>`, default kv.mjs) and returns its path. */
export async function bundleCli(name = 'kv.mjs'): Promise<string> {
  const outfile = bundlePath(name)
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
