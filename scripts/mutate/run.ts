/**
 * `pnpm mutate`: plants each bug of the catalogue in a scratch worktree of HEAD and runs the
 * checks expected to catch it, stopping at the first that fails.
 *
 *   pnpm mutate                     every mutation, every check until one fails (slow)
 *   pnpm mutate --quick             the quick subset, each with its cheapest check (CI)
 *   pnpm mutate --only a,b          just these mutations
 *   pnpm mutate --list              the catalogue, and whether each patch still applies
 *   pnpm mutate --sim-only          only the fuzzer (`pnpm sim`): does it catch each bug by itself?
 *   pnpm mutate --sim-only --sim-seeds 1000   ...within 1,000 seeds (how many it needs)
 *   pnpm mutate --json out.json     also write the results as JSON
 *
 * First every check is run on the unmutated tree: a check that fails there proves nothing
 * about a mutant, so it is reported and not used. Prints `mutation | caught by | time to
 * catch`, then `mutations=N caught=C survived=S`; exits 1 if any mutation survived, any
 * run was an error (a patch that no longer applies, a check that could not run), or any
 * baseline check failed. Scratch trees check out the committed HEAD: commit first.
 */
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Command, InvalidArgumentError } from 'commander'
import ts from 'typescript'
import { catalogue, checksFor, simChecks, type CheckSelection } from './catalogue.js'
import { runCheck, stopAllChecks } from './checks.js'
import { mutationOutcome } from './classify.js'
import { applyPatch, PatchError } from './patch.js'
import { checkLabel, formatSeconds, resultsTable, summarize, summaryLine } from './table.js'
import type { Check, CheckRun, Mutation, MutationResult } from './types.js'
import { createScratch, git, liveScratches, removeScratch } from './worktree.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
/** A check on a mutant may take this many times its baseline before it counts as hung. */
const TIMEOUT_FACTOR = 5
const MIN_TIMEOUT_MS = 60_000
const BASELINE_TIMEOUT_MS = 20 * 60_000

interface Options {
  readonly list?: boolean
  readonly only?: string
  readonly quick?: boolean
  readonly json?: string
  readonly jobs: number
  readonly allChecks?: boolean
  readonly simOnly?: boolean
  readonly simSeeds?: number
}

/** Set on SIGINT/SIGTERM: the checks are being killed, so their verdicts are noise. */
let stopping = false

function log(line: string): void {
  if (!stopping) process.stderr.write(`${line}\n`)
}

function select(options: Options): Mutation[] {
  const names = new Set(catalogue.map((m) => m.name))
  if (names.size !== catalogue.length) throw new Error('catalogue: two entries share a name')
  let chosen = options.simOnly === true ? catalogue.filter((m) => simChecks(m).length > 0) : [...catalogue]
  if (options.only !== undefined) {
    const wanted = options.only.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
    const unknown = wanted.filter((w) => !names.has(w))
    if (unknown.length > 0) throw new InvalidArgumentError(`unknown mutation ${unknown.join(', ')}; see --list`)
    chosen = chosen.filter((m) => wanted.includes(m.name))
  } else if (options.quick === true) {
    chosen = chosen.filter((m) => m.quick === true)
  }
  return chosen
}

/** Each patch against the file as committed; a PatchError per entry that does not apply. */
async function preparePatches(commit: string, mutations: readonly Mutation[]): Promise<Map<string, string | PatchError>> {
  const patched = new Map<string, string | PatchError>()
  for (const m of mutations) {
    let source: string
    try {
      source = await git(ROOT, 'show', `${commit}:${m.file}`)
    } catch {
      patched.set(m.name, new PatchError('FILE_MISSING', m.name, m.file, `the file does not exist at ${commit.slice(0, 10)}`))
      continue
    }
    try {
      patched.set(m.name, applyPatch(source, m))
    } catch (e) {
      if (!(e instanceof PatchError)) throw e
      patched.set(m.name, e)
    }
  }
  return patched
}

/** Syntax errors of a mutated file (a typo in a replacement must not pass for a catch). */
function syntaxErrors(file: string, source: string): string[] {
  const out = ts.transpileModule(source, { fileName: file, reportDiagnostics: true, compilerOptions: { target: ts.ScriptTarget.ES2022 } })
  return (out.diagnostics ?? []).map((d) => {
    const where = d.file !== undefined && d.start !== undefined ? `:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}` : ''
    return `${file}${where}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`
  })
}

function listCatalogue(mutations: readonly Mutation[], patches: Map<string, string | PatchError>): number {
  let broken = 0
  for (const m of mutations) {
    const p = patches.get(m.name)
    const state = p instanceof PatchError ? `PATCH FAILS: ${p.message}` : 'applies'
    if (p instanceof PatchError) broken++
    console.log(`${m.name}${m.quick === true ? ' [quick]' : ''}\n  ${m.description}\n  ${m.file}: ${state}`)
    for (const [i, c] of checksFor(m).entries()) console.log(`  ${i === 0 ? 'quick' : 'check'}: ${checkLabel(c)}`)
  }
  console.log(`${mutations.length} mutations, ${broken} whose patch does not apply`)
  return broken > 0 ? 1 : 0
}

async function runBaseline(commit: string, checks: readonly Check[]): Promise<Map<string, CheckRun>> {
  const results = new Map<string, CheckRun>()
  if (checks.length === 0) return results
  const scratch = await createScratch(ROOT, commit, 'baseline')
  try {
    for (const c of checks) {
      const r = await runCheck(scratch.dir, c, BASELINE_TIMEOUT_MS)
      results.set(r.label, r)
      const v = r.verdict
      const said = v.kind === 'passed' ? `passed${v.tests === undefined ? '' : ` (${v.tests} tests)`}` : `${v.kind.toUpperCase()}: ${'detail' in v ? v.detail : ''}`
      log(`baseline  ${r.label}: ${said} in ${formatSeconds(r.ms)}`)
    }
  } finally {
    await removeScratch(scratch.dir)
  }
  return results
}

interface RunContext {
  readonly commit: string
  readonly selection: CheckSelection
  readonly allChecks: boolean
  readonly patches: Map<string, string | PatchError>
  readonly baseline: Map<string, CheckRun>
}

function errorResult(m: Mutation, detail: string, t0: number): MutationResult {
  return { name: m.name, file: m.file, status: 'error', caughtBy: null, catchMs: null, seeds: null, detail, checks: [], totalMs: performance.now() - t0 }
}

async function runMutation(m: Mutation, ctx: RunContext): Promise<MutationResult> {
  const t0 = performance.now()
  const patched = ctx.patches.get(m.name)
  if (patched === undefined || patched instanceof PatchError) return errorResult(m, patched?.message ?? 'not prepared', t0)
  const syntax = syntaxErrors(m.file, patched)
  if (syntax.length > 0) return errorResult(m, `the patched file does not parse: ${syntax[0]}`, t0)
  const usable = checksFor(m, ctx.selection).filter((c) => ctx.baseline.get(checkLabel(c))?.verdict.kind === 'passed')
  const scratch = await createScratch(ROOT, ctx.commit, m.name)
  const runs: CheckRun[] = []
  try {
    await writeFile(path.join(scratch.dir, m.file), patched)
    for (const c of usable) {
      const base = ctx.baseline.get(checkLabel(c))!
      const r = await runCheck(scratch.dir, c, Math.max(MIN_TIMEOUT_MS, base.ms * TIMEOUT_FACTOR))
      runs.push(r)
      if (!ctx.allChecks && (r.verdict.kind === 'failed' || r.verdict.kind === 'timeout')) break
    }
  } finally {
    await removeScratch(scratch.dir)
  }
  const outcome = mutationOutcome(runs)
  const v = outcome.catcher?.verdict
  return {
    name: m.name,
    file: m.file,
    status: outcome.status,
    caughtBy: outcome.catcher?.label ?? null,
    catchMs: outcome.catcher?.ms ?? null,
    seeds: v?.kind === 'failed' ? (v.seedsRun ?? null) : null,
    detail: outcome.detail,
    checks: runs,
    totalMs: performance.now() - t0,
  }
}

/** Runs `work` over `items` with at most `jobs` at a time, keeping the input order. */
async function pool<T, R>(items: readonly T[], jobs: number, work: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i]!, i)
  }
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker))
  return results
}

function describeResult(r: MutationResult): string {
  switch (r.status) {
    case 'caught':
      return `caught by ${r.caughtBy} in ${formatSeconds(r.catchMs ?? 0)}${r.detail === null ? '' : ` — ${r.detail}`}`
    case 'survived':
      return `SURVIVED ${r.checks.map((c) => c.label).join('; ')}`
    case 'error':
      return `ERROR ${r.detail}`
    default:
      return r.status satisfies never
  }
}

async function main(options: Options): Promise<number> {
  const t0 = performance.now()
  const commit = (await git(ROOT, 'rev-parse', 'HEAD')).trim()
  const mutations = select(options)
  const patches = await preparePatches(commit, mutations)
  if (options.list === true) return listCatalogue(mutations, patches)
  const quick = options.quick === true
  const selection: CheckSelection = { quick, simOnly: options.simOnly === true, ...(options.simSeeds === undefined ? {} : { simSeeds: options.simSeeds }) }
  const dirty = (await git(ROOT, 'status', '--porcelain', '--', 'packages', 'apps')).trim()
  if (dirty.length > 0) log(`warning: uncommitted changes under packages/ or apps/ are not part of this run (it checks out ${commit.slice(0, 10)})`)
  log(`mutate: ${mutations.length} mutations at ${commit.slice(0, 10)}${quick ? ' (quick)' : ''}, ${options.jobs} at a time`)

  const needed = new Map<string, Check>()
  for (const m of mutations) if (!(patches.get(m.name) instanceof PatchError)) for (const c of checksFor(m, selection)) needed.set(checkLabel(c), c)
  const baseline = await runBaseline(commit, [...needed.values()])
  const baselineFailures = [...baseline.values()].filter((r) => r.verdict.kind !== 'passed')

  const ctx: RunContext = { commit, selection, allChecks: options.allChecks === true, patches, baseline }
  const results = await pool(mutations, options.jobs, async (m) => {
    const r = await runMutation(m, ctx)
    log(`mutation  ${m.name}: ${describeResult(r)} (${formatSeconds(r.totalMs)} in all)`)
    return r
  })

  const summary = summarize(results)
  const totalMs = performance.now() - t0
  console.log(resultsTable(results))
  console.log('')
  for (const r of results.filter((x) => x.status === 'survived')) {
    console.log(`survived: ${r.name} (${r.file}): ${catalogue.find((m) => m.name === r.name)?.description ?? ''}`)
  }
  for (const r of results.filter((x) => x.status === 'error')) console.log(`error: ${r.name}: ${r.detail ?? ''}`)
  if (ctx.allChecks) {
    console.log('every check on every mutant:')
    for (const r of results) {
      console.log(`  ${r.name}`)
      for (const c of r.checks) console.log(`    ${c.verdict.kind.padEnd(7)} ${formatSeconds(c.ms).padStart(5)}  ${c.label}`)
    }
  }
  for (const b of baselineFailures) {
    console.log(`BASELINE FAILED (not used for any mutation): ${b.label}: ${'detail' in b.verdict ? b.verdict.detail : b.verdict.kind}`)
  }
  if (options.json !== undefined) {
    const report = { commit, quick, totalMs, baseline: [...baseline.values()], results, summary: { ...summary, baselineFailures: baselineFailures.length } }
    await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`)
  }
  console.log(`total=${formatSeconds(totalMs)} errors=${summary.errors} baseline_failures=${baselineFailures.length}`)
  console.log(summaryLine(summary))
  return summary.survived > 0 || summary.errors > 0 || baselineFailures.length > 0 ? 1 : 0
}

function parseJobs(v: string): number {
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer')
  return n
}

async function cleanupAndExit(signal: NodeJS.Signals): Promise<void> {
  process.stderr.write(`mutate: ${signal}: stopping the checks and removing ${liveScratches().size} scratch worktree(s)\n`)
  stopping = true
  stopAllChecks()
  for (const dir of [...liveScratches().keys()]) await removeScratch(dir).catch(() => undefined)
  process.exit(130)
}

const program = new Command('mutate')
  .description('plant each catalogued bug in a scratch worktree and check that the tests catch it')
  .option('--list', 'list the catalogue and check that every patch applies')
  .option('--only <names>', 'only these mutations (comma-separated names)')
  .option('--quick', 'the quick subset, each with only its cheapest check')
  .option('--json <file>', 'also write the results as JSON')
  .option('--jobs <n>', 'mutations run at a time', parseJobs, 1)
  .option('--all-checks', 'run every check of each mutation, not only up to the first that catches it')
  .option('--sim-only', 'only the fuzzer runs (the catalogue entries with a sim check): does pnpm sim catch each bug by itself?')
  .option('--sim-seeds <n>', 'run each fuzzer check with this many seeds (it stops at the first failing one)', parseJobs)
  .action(async (options: Options) => {
    process.once('SIGINT', (s) => void cleanupAndExit(s))
    process.once('SIGTERM', (s) => void cleanupAndExit(s))
    process.exitCode = await main(options)
  })

await program.parseAsync()
