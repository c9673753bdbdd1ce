#!/usr/bin/env bash
# Packs every published @kv/* package as `pnpm publish` would (workspace versions replaced,
# publishConfig applied), checks each tarball (check-packed.mjs), installs @kv/client and
# @kv/cli from the tarballs with npm into a scratch app outside the workspace, then
#  - runs an ESM and a CJS script that create a client against nothing and expect a typed
#    UnavailableError or TimeoutError (and ClosedError after close);
#  - runs the installed `kv` bin: --version, config generate.
# Prints OK per check; exits non-zero on any failure. Run `pnpm build` first.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
here="$root/packages/client/scripts"
work="$(mktemp -d "${TMPDIR:-/tmp}/kv-pack-smoke.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pack" "$work/app"

overrides=()
deps=()
for dir in "$root"/packages/* "$root"/apps/node; do
  node -e 'process.exit(require(process.argv[1]).private === true ? 1 : 0)' "$dir/package.json" || continue
  (cd "$dir" && pnpm pack --pack-destination "$work/pack" >/dev/null)
  name="$(node -p 'require(process.argv[1]).name' "$dir/package.json")"
  version="$(node -p 'require(process.argv[1]).version' "$dir/package.json")"
  tarball="$work/pack/$(echo "${name#@}" | tr / -)-$version.tgz"
  node "$here/check-packed.mjs" "$tarball"
  case "$name" in
    @kv/client|@kv/cli) deps+=("\"$name\": \"file:$tarball\""); overrides+=("\"$name\": \"\$$name\"") ;;
    *) overrides+=("\"$name\": \"file:$tarball\"") ;;
  esac
done

cd "$work/app"
# Every @kv/* dependency resolves to its tarball (none is on the registry here).
printf '{ "name": "kv-pack-smoke", "private": true, "version": "0.0.0", "dependencies": { %s }, "overrides": { %s } }\n' \
  "$(IFS=,; echo "${deps[*]}")" "$(IFS=,; echo "${overrides[*]}")" >package.json
npm install --no-audit --no-fund --loglevel=error >/dev/null

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

kv="$work/app/node_modules/.bin/kv"
[ "$("$kv" --version)" = "$(node -p 'require(process.argv[1]).version' "$root/apps/node/package.json")" ] || { echo "kv --version is not the package version" >&2; exit 1; }
"$kv" config generate --groups 2 --out "$work/cluster.json" >/dev/null
node -e 'const c = require(process.argv[1]); if (!c.controller || c.groups.length !== 2) process.exit(1)' "$work/cluster.json"
echo "CLI OK: kv --version, kv config generate (installed bin)"
