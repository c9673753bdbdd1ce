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
}

export function withLayoutOptions(cmd: Command): Command {
  return cmd
    .option('-f, --faults <f>', 'faults tolerated per group (2f+1 replicas)', intArg(0, 4), 1)
    .option('--groups <g>', 'number of shard groups', intArg(1, 64), 1)
    .option('--protocol <p>', 'raft or paxos', protocolArg, 'raft')
    .option('--base-port <port>', 'first port; the rest follow', intArg(1, 65535), 7001)
}
