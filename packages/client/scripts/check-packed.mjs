// Checks one packed tarball as npm would install it: its package.json (publishConfig applied
// by pnpm pack) names only files the tarball holds, carries no workspace: version, and the
// tarball has a LICENSE. Usage: node check-packed.mjs <tarball>
import { execFileSync } from 'node:child_process'

const tarball = process.argv[2]
const files = new Set(execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, './')))
const p = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }))
const paths = []
const walk = (v) => {
  if (typeof v === 'string') paths.push(v.startsWith('./') ? v : `./${v}`)
  else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk)
}
for (const field of ['exports', 'main', 'module', 'types', 'bin']) walk(p[field])
const problems = []
const missing = paths.filter((x) => !files.has(x))
if (missing.length > 0) problems.push(`published paths missing from the tarball: ${missing.join(', ')}`)
if (JSON.stringify(p).includes('"@kv/source"')) problems.push('the @kv/source condition (workspace only) is in the published exports')
if (JSON.stringify(p).includes('workspace:')) problems.push('a workspace: version is left in package.json')
if (!files.has('./LICENSE')) problems.push('no LICENSE')
for (const field of ['license', 'engines', 'description']) if (p[field] === undefined || p[field] === '') problems.push(`no ${field}`)
if (problems.length > 0) {
  console.error(`${p.name}: ${problems.join('; ')}`)
  process.exit(1)
}
console.log(`packed ${p.name}@${p.version}: ${files.size} files, every published path present`)
