import { InvalidArgumentError, type Command } from 'commander'

export function intArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`)
    return n
  }
}

export function protocolArg(v: string): 'raft' | 'paxos' {
  if (v !== 'raft' && v !== 'paxos') throw new InvalidArgumentError('expected raft or paxos')
  return v
}

/** What a cluster looks like: shared by `config generate` and `cluster up`. */
export interface LayoutFlags {
  faults: number
  groups: number
  protocol: 'raft' | 'paxos'
  basePort: number
  /** commander's --controller / --no-controller: unset means "when there are several groups". */
  controller?: boolean
  spare: number
}

/** The layout the flags describe: a controller when asked for, or by default with more than one group or spare groups. */
export function layoutOf(o: LayoutFlags): { f: number; groups: number; protocol: 'raft' | 'paxos'; basePort: number; controller: boolean; spare: number } {
  const controller = o.controller ?? (o.groups > 1 || o.spare > 0)
  if (!controller && o.spare > 0) throw new InvalidArgumentError('--spare needs a controller (spare groups join through kv shard add)')
  return { f: o.faults, groups: o.groups, protocol: o.protocol, basePort: o.basePort, controller, spare: o.spare }
}

export function withLayoutOptions(cmd: Command): Command {
  return cmd
    .option('-f, --faults <f>', 'faults tolerated per group (2f+1 replicas)', intArg(0, 4), 1)
    .option('--groups <g>', 'number of shard groups', intArg(1, 64), 1)
    .option('--protocol <p>', 'raft or paxos', protocolArg, 'raft')
    .option('--base-port <port>', 'first port; the rest follow', intArg(1, 65535), 7001)
    .option('--controller', 'a controller group owns the shard map (default with more than one group)')
    .option('--no-controller', 'a fixed shard map, no controller group')
    .option('--spare <n>', 'more shard groups, outside the first map (add them with kv shard add)', intArg(0, 64), 0)
}
