/**
 * Process-test harness: real `kv node` processes on 127.0.0.1, each with its own data folder
 * and log file, steered with signals; clients that record every call into a history for the
 * linearizability checker.
 *
 * Every child process is tracked in one module-level set and SIGKILLed by `stop()`, and
 * again (synchronously) when the test worker exits, so a failing test leaves no orphan.
 */
import { createClient, type KvClient, type ReplicaStatus } from '@kv/client'
import type { HistoryRecorder } from '@kv/sim'
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeEach, type TestContext } from 'vitest'
import { allGroups } from '@kv/protocol'
import { generateConfig, parseConfig, type ClusterConfig } from '../src/config.js'
import { RecordingClient } from './recording.js'

export { attempt, errorCode, expectLinearizable, recordSpreadBatch, RecordingClient, type Outcome } from './recording.js'

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
export const cliPath = path.join(repoRoot, 'apps/node/src/cli.ts')
/**
 * How every `kv` process is started: the bundle of the current sources that vitest's global
 * setup made (`KV_TEST_CLI`, see bundle-cli.ts), or, outside vitest, the sources through tsx.
 */
export const kvNodeArgs = process.env.KV_TEST_CLI === undefined
  ? ['--conditions=@kv/source', '--import', 'tsx', cliPath]
  : ['--enable-source-maps', process.env.KV_TEST_CLI]

export type Signal = 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGTERM'

// ---------------------------------------------------------------------------------------------
// Child processes: one registry, so nothing outlives the test worker.

const liveChildren = new Set<ChildProcess>()

function killAllChildren(): void {
  for (const c of liveChildren) {
    try {
      c.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
}

// The test worker may end by 'exit' or be terminated by vitest with SIGTERM (no 'exit' event
// then): either way no replica outlives it.
process.once('exit', killAllChildren)
for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const) {
  process.once(signal, () => {
    killAllChildren()
    process.exit(code)
  })
}

function track(child: ChildProcess): ChildProcess {
  liveChildren.add(child)
  child.once('exit', () => liveChildren.delete(child))
  return child
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await exited(child)
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `probe` every `everyMs` until it returns a non-undefined value; throws after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown = null
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch (e) {
      last = e
    }
    await sleep(everyMs)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === null ? '' : ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})`}`)
}

// ---------------------------------------------------------------------------------------------
// One-shot `kv` commands.

export interface KvRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Starts `kv ...args` with piped output; tracked, so it dies with the test worker at the latest. */
export function spawnKv(args: readonly string[], options: { input?: Uint8Array | string; env?: Record<string, string> } = {}): { child: ChildProcess; done: Promise<KvRun>; output: () => KvRun } {
  const child = track(spawn(process.execPath, [...kvNodeArgs, ...args], {
    cwd: repoRoot, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env },
  }))
  if (options.input !== undefined) child.stdin!.end(options.input)
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const done = new Promise<KvRun>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return { child, done, output: () => ({ code: child.exitCode, signal: child.signalCode, stdout, stderr }) }
}

/** Runs `kv ...args` to completion (SIGKILLed after `timeoutMs`), with `input` on its stdin. */
export async function runKv(args: readonly string[], timeoutMs = 30_000, options: { input?: Uint8Array | string; env?: Record<string, string> } = {}): Promise<KvRun> {
  const { child, done } = spawnKv(args, options)
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  try {
    return await done
  } finally {
    clearTimeout(timer)
  }
}

/** Starts `kv ...args`, waits (bounded) until it exits or its stdout contains `marker`, then SIGTERMs it. */
export async function runKvUntil(args: string[], marker: string): Promise<KvRun> {
  const { child, done, output } = spawnKv(args)
  try {
    await waitFor(`"${marker}" from kv ${args.join(' ')}`, () => Promise.resolve(output().stdout.includes(marker) || child.exitCode !== null ? true : undefined), 20_000, 50)
  } finally {
    child.kill('SIGTERM')
    setTimeout(() => child.kill('SIGKILL'), 5000).unref()
  }
  return done
}

// ---------------------------------------------------------------------------------------------
// The cluster.

export interface ClusterOptions {
  /** A short name for the temp folder. */
  name: string
  /** First port; the replicas take basePort, basePort+1, ... */
  basePort: number
  f?: number
  protocol?: 'raft' | 'paxos'
  /** Extra `kv node` flags for every replica. */
  nodeFlags?: readonly string[]
  /** Extra flags for some replicas only (added after `nodeFlags`). */
  flagsById?: Readonly<Record<string, readonly string[]>>
  /** Which replicas to start at once (default: all). */
  start?: readonly string[]
  /**
   * Give each replica its own loopback address 127.0.<hostGroup>.<n>, n counting from 1 over
   * every group's replicas, the controller's first (so in a one-group cluster replica r gets
   * 127.0.<hostGroup>.<r>); a replica with such an address connects to its peers from it, so a
   * firewall rule on the source and destination addresses cuts one link. Each test that uses
   * it takes its own hostGroup. Default: every replica on 127.0.0.1.
   */
  hostGroup?: number
  /** Shard groups in the first map (default 1); more than one (or `spare`) adds a controller group. */
  groups?: number
  /** Shard groups laid out but outside the first map (for `kv shard add`). */
  spare?: number
  /** Changes the generated config before it is written (mixed protocols, other f, limits). */
  configure?: (config: ClusterConfig) => ClusterConfig
  /**
   * A command each replica's `node` runs under, e.g. `['ip', 'netns', 'exec', 'ns1']` to start it
   * in a network namespace (the command must exec node, so that signals reach the replica).
   */
  spawnPrefix?: (id: string) => readonly string[]
}

/** Moves every replica of the config (the controller's too) to its own address 127.0.<hostGroup>.<n>. */
function spreadOverHostGroup(config: ClusterConfig, hostGroup: number): ClusterConfig {
  // 127.0.0.x holds the default address and 127.0.1.x is what `config generate --spread-hosts` uses.
  if (!Number.isInteger(hostGroup) || hostGroup < 2 || hostGroup > 254) throw new Error(`hostGroup ${hostGroup} is not in 2..254`)
  let n = 0
  const spread = (g: ClusterConfig['groups'][number]) => ({ ...g, replicas: g.replicas.map((r) => ({ ...r, host: `127.0.${hostGroup}.${++n}` })) })
  // allGroups' order: the controller first.
  const controller = config.controller === undefined ? {} : { controller: spread(config.controller) }
  const groups = config.groups.map(spread)
  if (n > 254) throw new Error(`${n} replicas do not fit in 127.0.${hostGroup}.1..254`)
  return parseConfig({ ...config, ...controller, groups })
}

/** A client's TLS options from the config's tls section (as `createClient({ config })` takes them). */
function clientTlsOf(config: ClusterConfig): { tls?: { caFile: string; certFile?: string; keyFile?: string } } {
  const t = config.tls
  if (t === undefined) return {}
  return { tls: { caFile: t.caFile, ...(t.clientCertFile === undefined ? {} : { certFile: t.clientCertFile }), ...(t.clientKeyFile === undefined ? {} : { keyFile: t.clientKeyFile }) } }
}

export interface ClusterClientOptions {
  /** Each call's deadline (default 10 s). */
  timeoutMs?: number
  /** Talk to this replica only. */
  pinnedTo?: string
}

interface NodeProcess {
  child: ChildProcess
  stopped: boolean
}

export class ProcessCluster {
  readonly dir: string
  readonly configPath: string
  readonly config: ClusterConfig
  readonly #configIds: readonly string[]
  /** Replicas started with `join` (in no config): id → group and address. */
  readonly #joiners = new Map<string, { group: string; address: string }>()
  readonly #options: ClusterOptions
  readonly #nodes = new Map<string, NodeProcess>()
  readonly #clients: KvClient[] = []
  #stopped = false

  private constructor(options: ClusterOptions) {
    this.#options = options
    this.dir = mkdtempSync(path.join(os.tmpdir(), `kv-ptest-${options.name}-`))
    this.configPath = path.join(this.dir, 'cluster.json')
    const generated = generateConfig({
      f: options.f ?? 1, groups: options.groups ?? 1, spare: options.spare ?? 0, protocol: options.protocol ?? 'raft', basePort: options.basePort, host: '127.0.0.1',
    })
    const spread = options.hostGroup === undefined ? generated : spreadOverHostGroup(generated, options.hostGroup)
    this.config = options.configure === undefined ? spread : parseConfig(options.configure(spread))
    writeFileSync(this.configPath, JSON.stringify(this.config, null, 2) + '\n')
    this.#configIds = allGroups(this.config).flatMap((g) => g.replicas.map((r) => r.id))
  }

  /** Every replica: the config's, then those started with `join`. */
  get ids(): readonly string[] {
    return [...this.#configIds, ...this.#joiners.keys()]
  }

  /**
   * Starts a replica that is in no config, to be admitted to `group` by `kv member add`
   * (`kv node --join <group> --advertise <address>`). A later `restart` starts it the same way.
   */
  join(id: string, group: string, address: string, extraFlags: readonly string[] = []): void {
    if (this.#configIds.includes(id)) throw new Error(`${id} is in the config`)
    this.#joiners.set(id, { group, address })
    this.startNode(id, extraFlags)
  }

  /** Generates a config and starts the replicas (all, or `options.start`). Does not wait for a leader. */
  static start(options: ClusterOptions): ProcessCluster {
    const cluster = new ProcessCluster(options)
    for (const id of options.start ?? cluster.ids) cluster.startNode(id)
    return cluster
  }

  id(i: number): string {
    const id = this.ids[i]
    if (id === undefined) throw new Error(`no replica #${i}`)
    return id
  }

  dataDir(id: string): string {
    return path.join(this.dir, id)
  }

  logPath(id: string): string {
    return path.join(this.dir, `${id}.log`)
  }

  /** The replica ids of one group (the controller's too). */
  replicasOf(groupId: string): string[] {
    const g = allGroups(this.config).find((x) => x.id === groupId)
    if (g === undefined) throw new Error(`no group ${groupId}`)
    return [...g.replicas.map((r) => r.id), ...[...this.#joiners].filter(([, j]) => j.group === groupId).map(([id]) => id)]
  }

  address(id: string): string {
    const joined = this.#joiners.get(id)
    if (joined !== undefined) return joined.address
    const r = allGroups(this.config).flatMap((g) => g.replicas).find((x) => x.id === id)
    if (r === undefined) throw new Error(`no replica ${id}`)
    return `${r.host}:${r.port}`
  }

  port(id: string): number {
    return Number(this.address(id).split(':')[1])
  }

  /** The replica's IP address (its own with `hostGroup`, else 127.0.0.1). */
  host(id: string): string {
    return this.address(id).split(':')[0]!
  }

  /** Whether the replica's process is alive (running or paused). */
  isRunning(id: string): boolean {
    const n = this.#nodes.get(id)
    return n !== undefined && n.child.exitCode === null && n.child.signalCode === null
  }

  /** How the replica's last process ended: null while it runs (or never ran). */
  exitStatus(id: string): { code: number | null; signal: NodeJS.Signals | null } | null {
    const n = this.#nodes.get(id)
    if (n === undefined || this.isRunning(id)) return null
    return { code: n.child.exitCode, signal: n.child.signalCode }
  }

  running(): string[] {
    return this.ids.filter((id) => this.isRunning(id))
  }

  /** Spawns `kv node` for one replica; its stdout and stderr go to its log file (appended). */
  startNode(id: string, extraFlags: readonly string[] = []): void {
    if (this.#stopped) throw new Error('cluster stopped')
    if (this.isRunning(id)) throw new Error(`${id} is already running`)
    const flags = [...(this.#options.nodeFlags ?? []), ...(this.#options.flagsById?.[id] ?? []), ...extraFlags]
    // Small WAL segments: the default 64 MiB preallocation (twice per replica) is gigabytes of
    // zero-filling over the suite, which only slows a shared test machine down.
    const joined = this.#joiners.get(id)
    const joinFlags = joined === undefined ? [] : ['--join', joined.group, '--advertise', joined.address]
    const args = [...kvNodeArgs, '--config', this.configPath, 'node', '--id', id, '--data', this.dataDir(id), '--wal-segment-mb', '4', ...joinFlags, ...flags]
    const log = openSync(this.logPath(id), 'a')
    try {
      const prefix = this.#options.spawnPrefix?.(id) ?? []
      const [command, ...commandArgs] = prefix.length === 0 ? [process.execPath, ...args] : [...prefix, process.execPath, ...args]
      const child = track(spawn(command!, commandArgs, { cwd: repoRoot, stdio: ['ignore', log, log] }))
      this.#nodes.set(id, { child, stopped: false })
    } finally {
      closeSync(log)
    }
  }

  /** Sends a signal; SIGKILL and SIGTERM wait until the process has exited. */
  async kill(id: string, signal: Signal = 'SIGKILL'): Promise<void> {
    const n = this.#nodes.get(id)
    if (n === undefined || !this.isRunning(id)) throw new Error(`${id} is not running`)
    if (signal === 'SIGTERM' && n.stopped) n.child.kill('SIGCONT')
    n.child.kill(signal)
    if (signal === 'SIGSTOP') n.stopped = true
    if (signal === 'SIGCONT') n.stopped = false
    if (signal === 'SIGKILL' || signal === 'SIGTERM') {
      const bound = setTimeout(() => n.child.kill('SIGKILL'), 10_000)
      await exited(n.child)
      clearTimeout(bound)
    }
  }

  /** SIGKILLs the replica if it runs, then starts it again on the same data folder. */
  async restart(id: string, extraFlags: readonly string[] = []): Promise<void> {
    if (this.isRunning(id)) await this.kill(id, 'SIGKILL')
    this.startNode(id, extraFlags)
  }

  /** One replica's status, or null when it does not answer. */
  async status(id: string, client: KvClient, timeoutMs = 600): Promise<ReplicaStatus | null> {
    try {
      return await client.status(this.address(id), { timeoutMs })
    } catch {
      return null
    }
  }

  /**
   * Waits until a running, unpaused replica (not in `exclude`) says it leads, and returns its
   * id. With several claimants the highest term wins.
   */
  async waitForLeader(options: { exclude?: readonly string[]; timeoutMs?: number; group?: string } = {}): Promise<string> {
    const exclude = new Set(options.exclude ?? [])
    const probe = this.#internalClient()
    const members = new Set(options.group === undefined ? this.ids : this.replicasOf(options.group))
    return waitFor(`a leader${options.group === undefined ? '' : ` of ${options.group}`}`, async () => {
      const candidates = this.running().filter((id) => members.has(id) && !exclude.has(id) && this.#nodes.get(id)?.stopped !== true)
      const rows = await Promise.all(candidates.map((id) => this.status(id, probe)))
      const leaders = rows.filter((r): r is ReplicaStatus => r !== null && r.role === 'leader')
      leaders.sort((a, b) => b.term - a.term)
      return leaders[0]?.replicaId
    }, options.timeoutMs ?? 60_000, 150)
  }

  /** Waits until every running replica has applied at least `index`. */
  async waitForApplied(index: number, ids: readonly string[] = this.running(), timeoutMs = 30_000): Promise<void> {
    const probe = this.#internalClient()
    await waitFor(`replicas ${ids.join(', ')} to apply index ${index}`, async () => {
      const rows = await Promise.all(ids.map((id) => this.status(id, probe)))
      return rows.every((r) => r !== null && r.appliedIndex >= index) ? true : undefined
    }, timeoutMs)
  }

  /**
   * A client of this cluster, closed by `stop()`. With `pinnedTo` it knows that one replica
   * only: it never follows a leader hint elsewhere, so it gets answers from that replica or none.
   */
  client(options: ClusterClientOptions = {}): KvClient {
    const timeoutMs = options.timeoutMs ?? 10_000
    const c = options.pinnedTo === undefined
      ? createClient({ config: this.config, timeoutMs })
      : createClient({ endpoints: [this.address(options.pinnedTo)], clusterId: this.config.clusterId, token: this.config.token, timeoutMs, ...clientTlsOf(this.config) })
    this.#clients.push(c)
    return c
  }

  /** A client whose every call is recorded into `history` as client `clientId`. */
  recordingClient(history: HistoryRecorder, clientId: number, options: ClusterClientOptions = {}): RecordingClient {
    return new RecordingClient(this.client(options), history, clientId)
  }

  /**
   * Waits until every replica in `ids` answers with one applied index and one digest of its
   * data (nothing new being written meanwhile), and returns that index.
   */
  async waitForConvergence(ids: readonly string[] = this.running(), timeoutMs = 30_000): Promise<number> {
    const probe = this.#internalClient()
    return waitFor(`replicas ${ids.join(', ')} to agree on applied index and digest`, async () => {
      const rows = await Promise.all(ids.map((id) => probe.status(this.address(id), { digest: true, timeoutMs: 1000 }).catch(() => null)))
      const first = rows[0]
      if (first === null || first === undefined || first.digest === undefined) return undefined
      const same = rows.every((r) => r !== null && r.appliedIndex === first.appliedIndex && r.digest === first.digest)
      return same ? first.appliedIndex : undefined
    }, timeoutMs, 250)
  }

  #probe: KvClient | null = null
  #internalClient(): KvClient {
    this.#probe ??= this.client({ timeoutMs: 2000 })
    return this.#probe
  }

  /** The last `lines` lines of a replica's log. */
  logTail(id: string, lines = 30): string {
    const file = this.logPath(id)
    if (!existsSync(file)) return '(no log)'
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  }

  /** Every replica's log tail, for a failure message. */
  logTails(lines = 30): string {
    return this.ids.map((id) => `----- ${id} (${this.isRunning(id) ? 'running' : 'not running'}) -----\n${this.logTail(id, lines)}`).join('\n')
  }

  /**
   * Closes every client, SIGKILLs every replica and removes the data folder (kept with
   * `keepDir`: data, logs). Idempotent.
   */
  async stop(options: { keepDir?: boolean } = {}): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    await Promise.all(this.#clients.map((c) => c.close().catch(() => undefined)))
    await Promise.all([...this.#nodes.values()].map((n) => killAndWait(n.child)))
    if (options.keepDir !== true) rmSync(this.dir, { recursive: true, force: true })
  }
}

/**
 * A bound on the clusters one test file runs at once (tests of a file may run concurrently;
 * the machine has 2 cores). Waiters are served in order.
 */
let maxClustersAtOnce = 3
let clustersRunning = 0

/** Lowers the bound for the file that calls it (each test file runs in its own worker): files
 * whose clusters are large (a controller and several groups) run two at a time. */
export function limitClustersAtOnce(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`clusters at once must be a positive integer, not ${n}`)
  maxClustersAtOnce = n
}
const slotWaiters: Array<() => void> = []

async function acquireClusterSlot(): Promise<() => void> {
  if (clustersRunning >= maxClustersAtOnce) await new Promise<void>((resolve) => slotWaiters.push(resolve))
  else clustersRunning++
  let released = false
  return () => {
    if (released) return
    released = true
    const next = slotWaiters.shift()
    if (next !== undefined) next()
    else clustersRunning--
  }
}

/**
 * Starts a cluster owned by one test: its log tails are printed if the test fails, and it is
 * stopped (processes killed, folder removed) when the test ends, pass or fail. Safe for
 * concurrent tests.
 */
export async function startCluster(ctx: TestContext, options: ClusterOptions): Promise<ProcessCluster> {
  const release = await acquireClusterSlot()
  let cluster: ProcessCluster | null = null
  // Hooks first: whatever happens next, the processes die and the slot is given back. The
  // logs are printed here, before the folder goes (onTestFailed would run too late).
  ctx.onTestFinished(async () => {
    try {
      if (cluster !== null && ctx.task.result?.state === 'fail') {
        console.error(`replica logs of ${cluster.dir} (${ctx.task.name}):\n${cluster.logTails()}`)
      }
      await cluster?.stop()
    } finally {
      release()
    }
  })
  cluster = ProcessCluster.start(options)
  return cluster
}

/** Prints every replica's log tail when a test fails (register once per file or describe). */
export function printLogsOnFailure(cluster: () => ProcessCluster | null | undefined): void {
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      const c = cluster()
      if (c !== null && c !== undefined) console.error(`replica logs of ${c.dir}:\n${c.logTails()}`)
    })
  })
}
