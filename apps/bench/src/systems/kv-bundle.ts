/**
 * The `kv` command as one ES module, bundled once per bench run, so each replica starts as
 * plain Node.js (through tsx every start compiles the sources again): the process tests'
 * recipe (apps/node/test/bundle-cli.ts), in a file of the bench's own, so a bench never
 * rewrites the bundle a running test suite starts its replicas from.
 */
import { bundleCli } from '../../../node/test/bundle-cli.js'

let bundle: Promise<string> | null = null

export function kvBundle(): Promise<string> {
  bundle ??= bundleCli('kv-bench.mjs')
  return bundle
}
