import { createClient } from '@kv/client'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Command } from 'commander'
import { generateConfig, loadConfig, type ClusterConfig } from './config.js'
import { intArg, layoutOf, withLayoutOptions, type LayoutFlags } from './args.js'
import { allGroups } from '@kv/protocol'
import { configView } from './client-target.js'
import { collectStatus, formatTable } from './status.js'
import { CliError, exitCodes } from './exit-codes.js'
import { writeSecretFile } from './secret-file.js'

interface UpFlags extends LayoutFlags {
  dir: string
  fresh?: boolean
  dropRate?: string
  dropKinds?: string
  clients: number
  clientTimeout: number
  duration?: number
  metrics?: boolean
}

const stateFile = (dir: string) => path.join(dir, 'cluster-state.json')
const controlDir = (dir: string) => path.join(dir, 'control')

/** `kv cluster up | kill | restart`: a local cluster as child processes, steerable from another terminal. */
export function addClusterCommands(program: Command): void {
  const cluster = program.command('cluster').description('a whole local cluster as child processes')
  withLayoutOptions(cluster.command('up'))
    .description('start every replica of the cluster (Ctrl-C stops it and prints each replica\'s applied index and digest)')
    .option('--dir <dir>', 'data folder (cluster.json, one folder and log per replica)', '.kv-data')
    .option('--fresh', 'delete the data folder first')
    .option('--drop-rate <rate>', 'passed to every replica: low, medium, high or a probability')
    .option('--drop-kinds <kinds>', 'passed to every replica')
    .option('--clients <n>', 'load clients to run against the cluster', intArg(0, 1024), 0)
    .option('--client-timeout <s>', 'each load client\'s per-call timeout, seconds', intArg(1, 3600), 5)
    .option('--duration <s>', 'stop by itself after this many seconds', intArg(1, 86_400))
    .option('--metrics', 'each replica serves /metrics, /healthz and /readyz on its port + 1000')
    .action((o: UpFlags) => clusterUp(o))
  cluster
    .command('kill <id>')
    .description('SIGKILL one replica of the running local cluster')
    .option('--dir <dir>', 'data folder of the running cluster', '.kv-data')
    .action((id: string, o: { dir: string }) => {
      const pid = readState(o.dir).nodes[id]
      if (pid === undefined) throw new CliError('USAGE', `no replica ${id} in the cluster running from ${o.dir}`, exitCodes.usage)
      process.kill(pid, 'SIGKILL')
      console.log(`killed ${id} (pid ${pid})`)
    })
  cluster
    .command('restart <id>')
    .description('restart one replica of the running local cluster')
    .option('--dir <dir>', 'data folder of the running cluster', '.kv-data')
    .action((id: string, o: { dir: string }) => {
      if (readState(o.dir).nodes[id] === undefined) throw new CliError('USAGE', `no replica ${id} in the cluster running from ${o.dir}`, exitCodes.usage)
      mkdirSync(controlDir(o.dir), { recursive: true })
      writeFileSync(path.join(controlDir(o.dir), `restart-${id}`), '')
      console.log(`asked the cluster to restart ${id}`)
    })
}

function readState(dir: string): { up: number; nodes: Record<string, number> } {
  if (!existsSync(stateFile(dir))) throw new CliError('NO_CLUSTER', `no local cluster running from ${dir} (start one with kv cluster up, or give its --dir)`, exitCodes.unavailable)
  return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as { up: number; nodes: Record<string, number> }
}

function clusterUp(o: UpFlags): void {
  if (o.fresh === true) rmSync(o.dir, { recursive: true, force: true })
  mkdirSync(o.dir, { recursive: true })
  const configPath = path.join(o.dir, 'cluster.json')
  if (!existsSync(configPath)) {
    const c = generateConfig({ ...layoutOf(o), host: '127.0.0.1' })
    writeSecretFile(configPath, JSON.stringify(c, null, 2) + '\n')
  }
  const config = loadConfig(configPath)
  const view = configView(config, configPath)
  const children = new Map<string, ChildProcess>()
  const pids: Record<string, number> = {}
  const start = (id: string) => {
    const child = spawnReplica(o, configPath, id)
    children.set(id, child)
    pids[id] = child.pid ?? -1
    writeFileSync(stateFile(o.dir), JSON.stringify({ up: process.pid, nodes: pids }))
    child.on('exit', (code, signal) => {
      if (children.get(id) === child) console.log(`${id} exited (${signal ?? `code ${code}`})`)
    })
  }
  for (const g of allGroups(config)) for (const r of g.replicas) start(r.id)
  console.log(`cluster up: ${children.size} replicas (${allGroups(config).map((g) => `${g.id}: ${g.protocol}`).join(', ')}), data in ${o.dir}`)
  console.log(`try: pnpm kv --config ${configPath} put hello world && pnpm kv --config ${configPath} get hello`)
  if (config.controller !== undefined) {
    const spare = config.groups.filter((g) => config.initialGroups !== undefined && !config.initialGroups.includes(g.id))
    console.log(`shards: pnpm kv --config ${configPath} shard list`)
    if (spare.length > 0) console.log(`        pnpm kv --config ${configPath} shard add --group ${spare[0]!.id}     (then: shard remove ${spare[0]!.id})`)
  }
  const load = o.clients > 0 ? startLoad(config, o.clients, o.clientTimeout * 1000) : null
  let stopping = false
  const leaders = new Map<string, string>()
  const watch = setInterval(() => {
    if (stopping) return
    for (const id of takeRestartRequests(o.dir)) {
      children.get(id)?.kill('SIGKILL')
      start(id)
      console.log(`${id} restarted`)
    }
    void collectStatus(view, false, 800).then((rows) => {
      for (const r of rows.filter((x) => x.role === 'leader')) {
        const now = `${r.replica} (term ${r.term})`
        if (leaders.get(r.group) !== now) console.log(`${r.group}: leader ${now}`)
        leaders.set(r.group, now)
      }
      if (load !== null) console.log(`load: ${load.ok} ok, ${load.failed} failed`)
    })
  }, 1000)
  const stop = async () => {
    if (stopping) return
    stopping = true
    clearInterval(watch)
    if (load !== null) await load.stop()
    // Followers may be an entry or two behind the moment load stops: let them catch up first.
    let rows = await collectStatus(view, true, 2000)
    for (let i = 0; i < 20 && !caughtUp(rows); i++) {
      await new Promise((r) => setTimeout(r, 250))
      rows = await collectStatus(view, true, 2000)
    }
    console.log(formatTable(rows, true))
    console.log(agreement(rows, allGroups(config).length))
    for (const c of children.values()) c.kill('SIGTERM')
    rmSync(stateFile(o.dir), { force: true })
    setTimeout(() => process.exit(0), 1500).unref()
  }
  process.once('SIGINT', () => void stop())
  process.once('SIGTERM', () => void stop())
  if (o.duration !== undefined) setTimeout(() => void stop(), o.duration * 1000)
}

function spawnReplica(o: UpFlags, configPath: string, id: string): ChildProcess {
  const log = openSync(path.join(o.dir, `${id}.log`), 'a')
  const args = [...process.execArgv, process.argv[1]!, '--config', configPath, 'node', '--id', id, '--data', path.join(o.dir, id), '--exit-with-stdin']
  if (o.dropRate !== undefined) args.push('--drop-rate', o.dropRate)
  if (o.dropKinds !== undefined) args.push('--drop-kinds', o.dropKinds)
  if (o.metrics === true) {
    const r = allGroups(loadConfig(configPath)).flatMap((g) => g.replicas).find((x) => x.id === id)!
    args.push('--metrics-listen', `${r.host}:${r.port + 1000}`)
  }
  // Each replica in a process group of its own: a Ctrl-C (or a signal to the terminal's
  // group) reaches only `cluster up`, which reads every replica's digest for its exit summary
  // before it stops them. A replica exits when its stdin closes, so none outlives this process
  // however it ends.
  return spawn(process.execPath, args, { stdio: ['pipe', log, log], detached: true })
}

function takeRestartRequests(dir: string): string[] {
  const d = controlDir(dir)
  if (!existsSync(d)) return []
  const ids: string[] = []
  for (const f of readdirSync(d)) {
    if (!f.startsWith('restart-')) continue
    unlinkSync(path.join(d, f))
    ids.push(f.slice('restart-'.length))
  }
  return ids
}

/** N clients writing and reading random keys until stopped. */
function startLoad(config: ClusterConfig, n: number, timeoutMs: number) {
  const state = { ok: 0, failed: 0, running: true }
  const loops = Array.from({ length: n }, async (_, i) => {
    const client = createClient({ config, timeoutMs })
    let k = 0
    while (state.running) {
      const key = `load-${i}-${k++ % 100}`
      try {
        await client.put(key, `v${k}`)
        await client.get(key)
        state.ok += 2
      } catch {
        state.failed++
      }
    }
    await client.close()
  })
  return {
    get ok() { return state.ok },
    get failed() { return state.failed },
    async stop() {
      state.running = false
      await Promise.all(loops)
    },
  }
}

/** Every replica that answered has applied what its group committed. */
function caughtUp(rows: ReadonlyArray<{ group: string; appliedIndex: number | null; commitIndex: number | null }>): boolean {
  const commit = new Map<string, number>()
  for (const r of rows) commit.set(r.group, Math.max(commit.get(r.group) ?? 0, r.commitIndex ?? 0))
  return rows.every((r) => r.appliedIndex === null || r.appliedIndex === commit.get(r.group))
}

/** One line on whether every replica holds the same state (replicas that did not answer are named). */
export function agreement(rows: ReadonlyArray<{ replica: string; group: string; appliedIndex: number | null; digest: string | null }>, groups: number): string {
  const down = rows.filter((r) => r.digest === null).map((r) => r.replica)
  const states = new Set(rows.filter((r) => r.digest !== null).map((r) => `${r.group}:${r.appliedIndex}:${r.digest}`))
  const same = states.size <= groups ? 'agree' : 'differ (some may still be catching up)'
  return down.length === 0 ? `replicas ${same}` : `${down.length} replica(s) did not answer (${down.join(', ')}); the others ${same}`
}
