/**
 * Network partitions between replica processes, cut with iptables on the loopback device.
 *
 * A cluster started with `hostGroup` gives each replica its own address 127.0.<hostGroup>.<r>,
 * and each replica dials its peers from that address. So a DROP rule on (source, destination)
 * in INPUT silences one direction of one link: new connections and every packet of an open
 * one. Clients dial from 127.0.0.1 and are never cut.
 *
 * The rules live in chains of this test worker only: `KV_PART_<pid>`, jumped to from INPUT,
 * and below it one chain per cluster, `KV_PART_<pid>_<hostGroup>`, whose rules are replaced
 * in one `iptables-restore` (atomic: never half a partition). `close()` removes them all, and
 * so does the worker's exit or a signal; chains of a worker that died by SIGKILL are swept
 * by the next `Firewall.open()`.
 */
import { execFileSync } from 'node:child_process'
import { onWorkerExit } from './exit-hooks.js'

/** What the firewall needs of a cluster: its replica ids and each one's own loopback address. */
export interface FirewallCluster {
  readonly ids: readonly string[]
  id(i: number): string
  host(id: string): string
}

const chainPrefix = 'KV_PART_'
/** How long an iptables call waits for the xtables lock, in seconds. */
const lockWaitSeconds = '10'

function run(command: 'iptables' | 'iptables-restore', args: readonly string[], input?: string): string {
  try {
    return execFileSync(command, ['-w', lockWaitSeconds, ...args], {
      encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000, ...(input === undefined ? {} : { input }),
    })
  } catch (e) {
    const stderr = (e as { stderr?: unknown }).stderr
    const detail = typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : e instanceof Error ? e.message : String(e)
    throw new Error(`${command} ${args.join(' ')} failed: ${detail}`)
  }
}

const iptables = (...args: string[]): string => run('iptables', args)

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Removes the chains `owned` picks: first every jump into them from a chain it does not
 * pick (INPUT), then their rules, then the chains.
 */
function removeChains(owned: (chain: string) => boolean): void {
  const rules = iptables('-S').split('\n')
  const chains = new Set(rules.flatMap((line) => {
    const m = /^-N (\S+)$/.exec(line)
    return m !== null && owned(m[1]!) ? [m[1]!] : []
  }))
  if (chains.size === 0) return
  for (const line of rules) {
    const m = /^-A (\S+) .*-j (\S+)$/.exec(line)
    if (m === null || chains.has(m[1]!) || !chains.has(m[2]!)) continue
    // `iptables -S` prints the rule as it was given; with -D instead of -A it deletes it.
    iptables('-D', ...line.slice('-A '.length).split(' '))
  }
  for (const chain of chains) iptables('-F', chain)
  for (const chain of chains) iptables('-X', chain)
}

function ownChain(pid: number, chain: string): boolean {
  return chain === `${chainPrefix}${pid}` || chain.startsWith(`${chainPrefix}${pid}_`)
}

/** The chains of dead workers (a worker killed with SIGKILL cleans nothing up). */
function sweepChainsOfDeadWorkers(): void {
  removeChains((chain) => {
    const m = /^KV_PART_(\d+)(?:_\d+)?$/.exec(chain)
    return m !== null && Number(m[1]) !== process.pid && !isAlive(Number(m[1]))
  })
}

let exitHooksInstalled = false
let openFirewall: Firewall | null = null

function installExitHooks(): void {
  if (exitHooksInstalled) return
  exitHooksInstalled = true
  onWorkerExit('the partition chains', () => openFirewall?.close())
}

/** This worker's chain of partition rules. One per worker; `close()` removes every rule it made. */
export class Firewall {
  readonly chain = `${chainPrefix}${process.pid}`
  readonly #clusters = new Map<number, ClusterLinks>()
  #closed = false

  private constructor() {}

  /** Creates the worker's chain; throws a clear error when iptables is not usable here. */
  static open(): Firewall {
    if (openFirewall !== null) throw new Error('the firewall of this worker is open already')
    try {
      iptables('-S', 'INPUT')
    } catch (e) {
      throw new Error(
        'the partition tests need a working iptables (run as root, with the iptables package: .ci/run installs it); ' +
          (e instanceof Error ? e.message : String(e)),
      )
    }
    sweepChainsOfDeadWorkers()
    const firewall = new Firewall()
    installExitHooks()
    openFirewall = firewall
    iptables('-N', firewall.chain)
    iptables('-I', 'INPUT', '-i', 'lo', '-j', firewall.chain)
    return firewall
  }

  /** The links of one cluster started with `hostGroup`; `release()` it when the test ends. */
  links(cluster: FirewallCluster): ClusterLinks {
    if (this.#closed) throw new Error('firewall closed')
    const hostGroup = Number(cluster.host(cluster.id(0)).split('.')[2])
    if (cluster.host(cluster.id(0)) === '127.0.0.1' || !Number.isInteger(hostGroup)) {
      throw new Error('the cluster needs its own addresses (start it with hostGroup)')
    }
    if (this.#clusters.has(hostGroup)) throw new Error(`host group ${hostGroup} has links already`)
    const chain = `${this.chain}_${hostGroup}`
    iptables('-N', chain)
    iptables('-A', this.chain, '-j', chain)
    const links = new ClusterLinks(chain, cluster, () => {
      this.#clusters.delete(hostGroup)
      iptables('-D', this.chain, '-j', chain)
      iptables('-F', chain)
      iptables('-X', chain)
    })
    this.#clusters.set(hostGroup, links)
    return links
  }

  /** Removes every chain and rule of this worker. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    // Their chains go with the rest below.
    for (const links of this.#clusters.values()) links.forget()
    this.#clusters.clear()
    removeChains((chain) => ownChain(process.pid, chain))
    if (openFirewall === this) openFirewall = null
  }
}

export type Link = readonly [string, string]

/** The cut links of one cluster (each cut in both directions). */
export class ClusterLinks {
  #cut: Link[] = []
  #released = false

  constructor(
    readonly chain: string,
    readonly cluster: FirewallCluster,
    readonly removeChain: () => void,
  ) {}

  /** The links cut now, as "r1|r2, ...", or "none". */
  describe(): string {
    return this.#cut.length === 0 ? 'none' : this.#cut.map(([a, b]) => `${a}|${b}`).join(', ')
  }

  /** Cuts exactly these links (both directions) and heals every other, in one step. */
  cut(links: readonly Link[]): void {
    if (this.#released) throw new Error('links released')
    const rules = links.flatMap(([a, b]) => {
      const ha = this.cluster.host(a)
      const hb = this.cluster.host(b)
      if (ha === hb) throw new Error(`cannot cut ${a} from itself`)
      return [`-A ${this.chain} -s ${ha}/32 -d ${hb}/32 -j DROP`, `-A ${this.chain} -s ${hb}/32 -d ${ha}/32 -j DROP`]
    })
    // With --noflush, declaring a chain flushes it and leaves every other chain alone.
    run('iptables-restore', ['--noflush'], ['*filter', `:${this.chain} - [0:0]`, ...rules, 'COMMIT', ''].join('\n'))
    this.#cut = links.map(([a, b]) => [a, b] as const)
  }

  /** Cuts every link between replicas on different sides (a replica on no side keeps all its links). */
  split(sides: ReadonlyArray<readonly string[]>): void {
    const links: Link[] = []
    sides.forEach((side, i) => {
      for (const other of sides.slice(i + 1)) for (const a of side) for (const b of other) links.push([a, b])
    })
    this.cut(links)
  }

  /** Cuts `id` from every other replica. */
  isolate(id: string): void {
    this.split([[id], this.cluster.ids.filter((x) => x !== id)])
  }

  heal(): void {
    this.cut([])
  }

  /** Heals every link and removes the cluster's chain. Idempotent. */
  release(): void {
    if (this.#released) return
    this.#released = true
    this.#cut = []
    this.removeChain()
  }

  /** The firewall removed the chain already. */
  forget(): void {
    this.#released = true
    this.#cut = []
  }
}
