/**
 * Every server process the bench starts, in one registry: SIGKILLed when the bench exits,
 * however it exits (an error, Ctrl-C, SIGTERM), so no replica, etcd member or redis-server
 * outlives a run. Scratch folders are removed then too, unless `--keep`.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { rmSync } from 'node:fs'

const live = new Set<ChildProcess>()
const scratch = new Set<string>()
let keepScratch = false
let hooked = false

function cleanUp(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
  if (!keepScratch) for (const d of scratch) rmSync(d, { recursive: true, force: true })
}

function hook(): void {
  if (hooked) return
  hooked = true
  process.once('exit', cleanUp)
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping every server it started\n`)
      process.exit(code)
    })
  }
}

export function keepScratchFolders(keep: boolean): void {
  keepScratch = keep
}

/** A scratch folder, removed at exit unless --keep. */
export function registerScratch(dir: string): string {
  hook()
  scratch.add(dir)
  return dir
}

export function removeScratch(dir: string): void {
  scratch.delete(dir)
  if (!keepScratch) rmSync(dir, { recursive: true, force: true })
}

export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  hook()
  const child = spawn(command, args, options)
  live.add(child)
  child.once('exit', () => live.delete(child))
  return child
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopChild(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (hasExited(child)) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

export async function killChild(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGKILL')
  await exited
}
