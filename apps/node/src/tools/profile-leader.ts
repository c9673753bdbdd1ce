/**
 * Where a leader's CPU goes under write load. Starts a 3-replica group (processes on
 * 127.0.0.1, WAL + LMDB in a temp folder) with `node --cpu-prof` on every replica, keeps `-c`
 * puts of `--value-bytes` in flight for `-s` seconds (closed loop), stops the replicas with
 * SIGTERM (each writes its profile on exit) and prints the leader's functions by self time.
 *
 *   pnpm profile-leader [--protocol raft] [-c 64] [-s 10] [--top 20] [--no-profile] [--root <checkout>]
 *
 * Also prints writes/s, p50/p99, and the CPU time each replica spent per write (from
 * /proc/<pid>/stat over the measured window): on a shared machine wall-clock figures follow
 * the load of others, CPU per write much less. A profiled process is slower: compare runs with
 * each other, not with `pnpm bench`; `--no-profile` runs without the profiler. `--root` starts
 * the replicas from another checkout of kv (to compare two versions under the same load
 * generator). `--keep` keeps the folder with the .cpuprofile files (open them in Chrome DevTools).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createClient } from '@kv/client'
import { Command, InvalidArgumentError } from 'commander'
import { quantile, startClosedLoop, waitForFirstWrite } from './closed-loop.js'

const ROOT = path.resolve(import.meta.dirname, '../../../..')

interface Flags {
  protocol: string
  concurrency: number
  seconds: number
  valueBytes: number
  top: number
  port: number
  profile: boolean
  root?: string
  keep?: boolean
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: readonly number[]
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

const int = (v: string) => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer')
  return n
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); null elsewhere. */
function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    // Fields after the command name (which may hold spaces, so split after its closing paren).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime, in clock ticks of 10 ms
  } catch {
    return null
  }
}

/** Self time per function (name and place), in ms, largest first; and the total. */
function selfTimes(profile: CpuProfile): { total: number; rows: Array<{ fn: string; ms: number }> } {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]))
  const ms = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const node = byNode.get(id)
    const dt = (profile.timeDeltas[i] ?? 0) / 1000
    if (node === undefined) return
    const { functionName, url, lineNumber } = node.callFrame
    const where = url === '' ? '' : ` ${url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '').replace(/.*node_modules\/\.pnpm\/([^/]+)\/.*\/([^/]+)$/, '$1 $2')}:${lineNumber + 1}`
    const fn = `${functionName === '' ? '(anonymous)' : functionName}${where}`
    ms.set(fn, (ms.get(fn) ?? 0) + dt)
    total += dt
  })
  const rows = [...ms.entries()].map(([fn, t]) => ({ fn, ms: t })).sort((a, b) => b.ms - a.ms)
  return { total, rows }
}

async function main(f: Flags): Promise<void> {
  if (f.protocol !== 'raft' && f.protocol !== 'paxos') throw new InvalidArgumentError(`unknown protocol ${f.protocol}`)
  const dir = mkdtempSync(path.join(os.tmpdir(), `kv-profile-${f.protocol}-`))
  const replicas = [1, 2, 3].map((i) => ({ id: `g1-r${i}`, host: '127.0.0.1', port: f.port + i - 1 }))
  const config = { clusterId: `profile-${process.pid}`, token: 'profile', tickMs: 50, groups: [{ id: 'g1', protocol: f.protocol, replicas }] }
  const configPath = path.join(dir, 'cluster.json')
  writeFileSync(configPath, JSON.stringify(config))
  const children = new Map<string, ChildProcess>()
  const root = path.resolve(f.root ?? ROOT)
  for (const r of replicas) {
    const profDir = path.join(dir, `prof-${r.id}`)
    mkdirSync(profDir)
    const log = openSync(path.join(dir, `${r.id}.log`), 'a')
    const profile = f.profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []
    const args = [...profile, '--conditions=@kv/source', '--import', 'tsx', path.join(root, 'apps/node/src/cli.ts'),
      '--config', configPath, 'node', '--id', r.id, '--data', path.join(dir, r.id), '--log-level', 'warn']
    children.set(r.id, spawn(process.execPath, args, { cwd: root, stdio: ['ignore', log, log] }))
  }
  const clients = Array.from({ length: Math.ceil(f.concurrency / 16) }, () => createClient({ config: configPath, timeoutMs: 10_000 }))
  try {
    await waitForFirstWrite(clients[0]!, 60, 500)
    const load = startClosedLoop(clients, f.concurrency, f.valueBytes)
    await sleep(2000)
    const cpuBefore = replicas.map((r) => cpuSeconds(children.get(r.id)?.pid))
    load.startMeasuring()
    const start = performance.now()
    await sleep(f.seconds * 1000)
    const latencies = load.stopMeasuring()
    const elapsed = (performance.now() - start) / 1000
    const cpuAfter = replicas.map((r) => cpuSeconds(children.get(r.id)?.pid))
    const writes = latencies.length
    await load.stop()
    const at = (q: number) => quantile(latencies, q)
    const status = await Promise.all(replicas.map((r) => clients[0]!.status(`${r.host}:${r.port}`).catch(() => null)))
    const leader = status.find((s) => s?.role === 'leader')?.replicaId ?? null
    console.log(`${f.protocol}: ${Math.round(writes / elapsed)} writes/s, p50 ${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms (${f.concurrency} in flight, ${f.valueBytes} B${f.profile ? ', profiled' : ''}; load ${os.loadavg()[0]!.toFixed(1)})`)
    console.log(`leader: ${leader ?? 'unknown'}`)
    const perWrite = replicas.map((r, i) => {
      const [a, b] = [cpuBefore[i], cpuAfter[i]]
      return a === null || a === undefined || b === null || b === undefined ? null : ((b - a) * 1e6) / Math.max(1, writes)
    })
    const known = perWrite.filter((x): x is number => x !== null)
    if (known.length === replicas.length) {
      const parts = replicas.map((r, i) => `${r.id}${r.id === leader ? ' (leader)' : ''} ${known[i]!.toFixed(0)}`)
      console.log(`CPU per write, µs: ${parts.join(', ')}; all replicas ${known.reduce((x, y) => x + y, 0).toFixed(0)}`)
    }
    await Promise.all(clients.map((c) => c.close()))
    for (const child of children.values()) child.kill('SIGTERM')
    await Promise.all([...children.values()].map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))))
    for (const r of f.profile ? replicas : []) {
      if (leader !== null && r.id !== leader) continue
      const profDir = path.join(dir, `prof-${r.id}`)
      const file = readdirSync(profDir).find((n) => n.endsWith('.cpuprofile'))
      if (file === undefined) {
        console.log(`${r.id}: no profile written`)
        continue
      }
      const { total, rows } = selfTimes(JSON.parse(readFileSync(path.join(profDir, file), 'utf8')) as CpuProfile)
      console.log(`${r.id}: ${(total / 1000).toFixed(1)} s sampled; top ${f.top} by self time:`)
      for (const row of rows.slice(0, f.top)) console.log(`  ${(100 * row.ms / total).toFixed(1).padStart(5)} %  ${row.fn}`)
    }
  } finally {
    for (const child of children.values()) if (child.exitCode === null) child.kill('SIGKILL')
    if (f.keep === true) console.log(`kept ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  }
}

await new Command('profile-leader')
  .description("a 3-replica group under write load, with the leader's CPU profile")
  .option('--protocol <p>', 'raft or paxos', 'raft')
  .option('-c, --concurrency <n>', 'requests in flight', int, 64)
  .option('-s, --seconds <n>', 'seconds measured', int, 10)
  .option('--value-bytes <n>', 'value size', int, 100)
  .option('--top <n>', 'functions listed', int, 20)
  .option('--port <n>', 'first port', int, 23300)
  .option('--no-profile', 'run without the profiler')
  .option('--root <dir>', 'start the replicas from this checkout of kv')
  .option('--keep', 'keep the data folder and profiles')
  .action(main)
  .parseAsync()
