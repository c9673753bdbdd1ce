/**
 * CPU per process over a measured window, from /proc/<pid>/stat (utime + stime, in clock
 * ticks) for the servers and `process.cpuUsage()` for the load generator itself: what a row
 * spent where, so a reader can tell a CPU-bound figure from one bound by fsync or the network.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import type { CpuReport } from './result.js'

export interface ServerProcess {
  name: string
  pid: number
}

let clockTicks: number | null = null

/** Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when it cannot be asked). */
function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** utime + stime of a /proc/<pid>/stat line, in ticks (the command name may hold spaces and parentheses). */
export function parseStatTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11])
  const stime = Number(rest[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unreadable /proc stat line: ${stat.slice(0, 80)}`)
  return utime + stime
}

/** CPU seconds a process has used so far, or null when it is gone (or this is not Linux). */
export function cpuSecondsOf(pid: number): number | null {
  try {
    return parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / ticksPerSecond()
  } catch {
    return null
  }
}

/** Busy CPU seconds of the whole machine so far (all cores; /proc/stat less idle and iowait), or null off Linux. */
export function machineBusySeconds(): number | null {
  try {
    return parseMachineBusyTicks(readFileSync('/proc/stat', 'utf8')) / ticksPerSecond()
  } catch {
    return null
  }
}

/** The first line of /proc/stat: "cpu user nice system idle iowait irq softirq steal ...", in ticks. */
export function parseMachineBusyTicks(stat: string): number {
  const fields = stat.split('\n')[0]!.trim().split(/\s+/)
  if (fields[0] !== 'cpu') throw new Error('unreadable /proc/stat')
  const n = fields.slice(1, 9).map(Number)
  if (n.length < 5 || n.some((x) => !Number.isFinite(x))) throw new Error('unreadable /proc/stat')
  const [user, nice, system, , , irq = 0, softirq = 0, steal = 0] = n as [number, number, number, number, number, number?, number?, number?]
  return user + nice + system + irq + softirq + steal
}

const selfSeconds = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** Readings at the start of a window; `stop` gives each process's cores over it. */
export class CpuWindow {
  readonly #start = performance.now()
  readonly #self = selfSeconds()
  readonly #machine = machineBusySeconds()
  readonly #servers: Array<ServerProcess & { at: number | null }>

  constructor(servers: readonly ServerProcess[]) {
    this.#servers = servers.map((s) => ({ ...s, at: cpuSecondsOf(s.pid) }))
  }

  /** Cores per process (CPU seconds per wall second). A process gone by the end (a failover row's victim) counts 0: its share is unknown. */
  stop(): { wallSeconds: number; loadGenerator: number; machineBusy: number | null; servers: Array<ServerProcess & { cores: number }> } {
    const wallSeconds = (performance.now() - this.#start) / 1000
    const machineNow = machineBusySeconds()
    const machineBusy = this.#machine === null || machineNow === null ? null : Math.max(0, machineNow - this.#machine) / wallSeconds
    const servers = this.#servers.map((s) => {
      const now = cpuSecondsOf(s.pid)
      const cores = s.at === null || now === null ? 0 : Math.max(0, now - s.at) / wallSeconds
      return { name: s.name, pid: s.pid, cores }
    })
    return { wallSeconds, loadGenerator: (selfSeconds() - this.#self) / wallSeconds, machineBusy, servers }
  }
}

const r2 = (x: number) => Math.round(x * 100) / 100

/** The row's CPU report; `roleOf` names each server's role as seen at the end of the row. */
export function cpuReport(w: ReturnType<CpuWindow['stop']>, roleOf: (name: string) => string): CpuReport {
  const processes = [
    ...w.servers.map((s) => ({ name: s.name, pid: s.pid, role: roleOf(s.name), cores: r2(s.cores) })),
    { name: 'load-generator', pid: process.pid, role: 'load-generator', cores: r2(w.loadGenerator) },
  ]
  const busiest = w.servers.reduce<(ServerProcess & { cores: number }) | null>((b, s) => (b === null || s.cores > b.cores ? s : b), null)
  const machineCores = os.availableParallelism()
  const serverCores = w.servers.reduce((a, s) => a + s.cores, 0)
  return {
    machineCores,
    serverCores: r2(serverCores),
    busiestServer: busiest?.name ?? '-',
    busiestServerCores: r2(busiest?.cores ?? 0),
    loadGeneratorCores: r2(w.loadGenerator),
    machineShare: r2((serverCores + w.loadGenerator) / machineCores),
    otherCores: w.machineBusy === null ? null : r2(Math.max(0, w.machineBusy - serverCores - w.loadGenerator)),
    processes,
  }
}
