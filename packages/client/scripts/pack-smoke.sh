#!/usr/bin/env bash
# Builds @kv/client, packs it, installs the tarball into a scratch app outside the workspace,
# and runs an ESM and a CJS script that create a client against nothing and expect a typed
# UnavailableError or TimeoutError. Prints OK per script; exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/kv-client-smoke.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cd "$here"
pnpm run build >/dev/null
pnpm pack --pack-destination "$work/pack" >/dev/null
tarball="$(ls "$work"/pack/*.tgz)"
echo "packed $(basename "$tarball"): $(tar -tzf "$tarball" | tr '\n' ' ')"

app="$work/app"
mkdir -p "$app"
cd "$app"
echo '{ "name": "kv-client-smoke", "private": true, "version": "0.0.0" }' >package.json
npm install --no-audit --no-fund --loglevel=error "$tarball" >/dev/null

# A port nothing listens on: ask the OS for one, then let it go.
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{const p=s.address().port;s.close(()=>console.log(p))})')"

cat >smoke.mjs <<JS
import { createClient, KvError, UnavailableError, TimeoutError } from '@kv/client'
const client = createClient({ endpoints: ['127.0.0.1:${port}'], clusterId: 'smoke', token: 'smoke', timeoutMs: 300 })
try {
  await client.put('k', 'v')
  throw new Error('put succeeded against no server')
} catch (err) {
  if (!(err instanceof UnavailableError || err instanceof TimeoutError) || !(err instanceof KvError)) throw err
  console.log('ESM OK:', err.code, '-', err.message)
} finally {
  await client.close()
}
JS

cat >smoke.cjs <<JS
const { createClient, KvError, UnavailableError, TimeoutError, ClosedError } = require('@kv/client')
async function main() {
  const client = createClient({ endpoints: ['127.0.0.1:${port}'], clusterId: 'smoke', token: 'smoke', timeoutMs: 300 })
  try {
    await client.get('k')
    throw new Error('get succeeded against no server')
  } catch (err) {
    if (!(err instanceof UnavailableError || err instanceof TimeoutError) || !(err instanceof KvError)) throw err
    console.log('CJS OK:', err.code, '-', err.message)
  }
  await client.close()
  await client.get('k').then(
    () => { throw new Error('get after close succeeded') },
    (err) => { if (!(err instanceof ClosedError)) throw err },
  )
}
main().catch((err) => { console.error(err); process.exit(1) })
JS

node smoke.mjs
node smoke.cjs
