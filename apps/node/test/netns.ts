/**
 * Network namespaces for process tests: each replica on a "machine" of its own, with one
 * address in 10.77.0.0/24 on a veth pair whose other end sits on a bridge in the root
 * namespace (address 10.77.0.254, where the test's clients dial from). A partition is cut
 * with iptables *inside* a namespace (its own netfilter tables: nothing in the root
 * namespace's rules changes, and the rules vanish with the namespace).
 *
 * Names carry the test worker's pid: namespaces `kvt-<pid>-<i>`, bridge `kvb<pid>`, root-side
 * veths `kvv<pid>n<i>`. `close()` deletes them, so do the worker's exit and signals; what a
 * SIGKILLed worker left is swept by the next `Machines.create()` (its pid is dead). One run at
 * a time uses the subnet: a lock directory holds the owner's pid.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { onWorkerExit } from './exit-hooks.js'

export const subnet = '10.77.0'
/** The bridge's address in the root namespace: where the test's clients connect from. */
export const clientAddress = `${subnet}.254`
const bridgeAddress = clientAddress
const lockDir = '/tmp/kv-netns-test.lock'

function run(command: string, args: readonly string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 })
  } catch (e) {
    const stderr = (e as { stderr?: unknown }).stderr
    const detail = typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : e instanceof Error ? e.message : String(e)
    throw new Error(`${command} ${args.join(' ')} failed: ${detail}`)
  }
}

const ip = (...args: string[]) => run('ip', args)

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Why network namespaces cannot be used here, or null when they can. */
export function netnsUnavailable(): string | null {
  try {
    ip('netns', 'list')
    return null
  } catch (e) {
    return `network namespaces are not available (needs root and iproute2's ip netns; .ci/run installs iproute2): ${e instanceof Error ? e.message : String(e)}`
  }
}

/** Removes the namespaces and bridges of workers that are gone (a SIGKILLed run cleans nothing up). */
function sweepLeftovers(): void {
  for (const line of ip('netns', 'list').split('\n')) {
    const m = /^(kvt-(\d+)-\d+)\b/.exec(line.trim())
    if (m !== null && !isAlive(Number(m[2]))) ip('netns', 'delete', m[1]!)
  }
  for (const line of ip('-o', 'link', 'show').split('\n')) {
    const m = /^\d+: (kv[bv](\d+)(?:n\d+)?)[@:]/.exec(line)
    if (m !== null && !isAlive(Number(m[2]))) {
      try {
        ip('link', 'delete', m[1]!)
      } catch {
        // A veth goes with its peer's namespace: it may be gone by now.
      }
    }
  }
}

/** Takes the subnet's lock (waiting for a live holder, taking it from a dead one). */
async function lockSubnet(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      mkdirSync(lockDir)
      writeFileSync(`${lockDir}/pid`, String(process.pid))
      return
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    let holder = NaN
    try {
      holder = Number(readFileSync(`${lockDir}/pid`, 'utf8'))
    } catch {
      // Being written: look again.
    }
    if (Number.isInteger(holder) && !isAlive(holder)) rmSync(lockDir, { recursive: true, force: true })
    else if (Date.now() > deadline) throw new Error(`${lockDir} is held by pid ${holder}: another run uses ${subnet}.0/24`)
    else await new Promise((r) => setTimeout(r, 200))
  }
}

function unlockSubnet(): void {
  try {
    if (Number(readFileSync(`${lockDir}/pid`, 'utf8')) === process.pid) rmSync(lockDir, { recursive: true, force: true })
  } catch {
    // not ours, or gone
  }
}

let open: Machines | null = null
let hooksInstalled = false

function installExitHooks(): void {
  if (hooksInstalled) return
  hooksInstalled = true
  onWorkerExit('the network namespaces', () => open?.close())
}

/** N "machines": network namespaces with one address each, on one bridge. */
export class Machines {
  readonly bridge = `kvb${process.pid}`
  readonly names: readonly string[]
  #forwardRule: string[] | null = null
  #closed = false

  private constructor(readonly count: number) {
    this.names = Array.from({ length: count }, (_, i) => `kvt-${process.pid}-${i + 1}`)
  }

  /** Machine i's (from 1) address. */
  address(i: number): string {
    return `${subnet}.${i}`
  }

  /** The command prefix that runs a program on machine i. */
  exec(i: number): string[] {
    return ['ip', 'netns', 'exec', this.names[i - 1]!]
  }

  static async create(count: number): Promise<Machines> {
    if (open !== null) throw new Error('this worker has its machines already')
    await lockSubnet(60_000)
    const m = new Machines(count)
    open = m
    installExitHooks()
    try {
      sweepLeftovers()
      m.#build()
    } catch (e) {
      m.close()
      throw e
    }
    return m
  }

  #build(): void {
    ip('link', 'add', this.bridge, 'type', 'bridge')
    ip('addr', 'add', `${bridgeAddress}/24`, 'dev', this.bridge)
    ip('link', 'set', this.bridge, 'up')
    this.names.forEach((ns, k) => {
      const i = k + 1
      const outer = `kvv${process.pid}n${i}`
      ip('netns', 'add', ns)
      ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      ip('link', 'set', outer, 'master', this.bridge)
      ip('link', 'set', outer, 'up')
      ip('-n', ns, 'addr', 'add', `${this.address(i)}/24`, 'dev', 'eth0')
      ip('-n', ns, 'link', 'set', 'eth0', 'up')
      ip('-n', ns, 'link', 'set', 'lo', 'up')
    })
    // With br_netfilter, bridged frames cross the root namespace's FORWARD chain: where its
    // policy drops (a Docker host), let the bridge's own traffic through, and remove it after.
    let bridged = false
    try {
      bridged = readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim() === '1'
    } catch {
      // no br_netfilter: bridged frames never see iptables
    }
    if (bridged && !/^-P FORWARD ACCEPT$/m.test(run('iptables', ['-w', '10', '-S', 'FORWARD']))) {
      this.#forwardRule = ['FORWARD', '-i', this.bridge, '-o', this.bridge, '-j', 'ACCEPT']
      run('iptables', ['-w', '10', '-I', ...this.#forwardRule])
    }
  }

  /** Drops every packet between machine i and the machines `others` (both directions, in i's namespace). */
  cut(i: number, others: readonly number[]): void {
    const ns = this.names[i - 1]!
    for (const o of others) {
      run('ip', ['netns', 'exec', ns, 'iptables', '-w', '10', '-A', 'INPUT', '-s', this.address(o), '-j', 'DROP'])
      run('ip', ['netns', 'exec', ns, 'iptables', '-w', '10', '-A', 'OUTPUT', '-d', this.address(o), '-j', 'DROP'])
    }
  }

  /** Removes every rule of machine i. */
  heal(i: number): void {
    const ns = this.names[i - 1]!
    run('ip', ['netns', 'exec', ns, 'iptables', '-w', '10', '-F', 'INPUT'])
    run('ip', ['netns', 'exec', ns, 'iptables', '-w', '10', '-F', 'OUTPUT'])
  }

  /** Deletes the namespaces (their veths go with them), the bridge and any rule added. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    const problems: string[] = []
    const attempt = (f: () => void) => {
      try {
        f()
      } catch (e) {
        problems.push(e instanceof Error ? e.message : String(e))
      }
    }
    for (const ns of this.names) attempt(() => ip('netns', 'delete', ns))
    attempt(() => ip('link', 'delete', this.bridge))
    if (this.#forwardRule !== null) attempt(() => run('iptables', ['-w', '10', '-D', ...this.#forwardRule!]))
    if (open === this) open = null
    unlockSubnet()
    // A namespace that was never made is not a problem worth a failure.
    const real = problems.filter((p) => !/Cannot (find|open)|No such file|does not exist|Cannot find device/.test(p))
    if (real.length > 0) throw new Error(`cleaning up the network namespaces: ${real.join('; ')}`)
  }
}
