/**
 * vitest global setup: bundles the `kv` command once per run (see bundle-cli.ts) and hands its
 * path to the test workers through `KV_TEST_CLI`, which the harness starts every process with.
 */
import { bundleCli } from './bundle-cli.js'

export default async function setup(): Promise<void> {
  process.env.KV_TEST_CLI = await bundleCli()
}
