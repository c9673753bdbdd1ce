import { InvalidArgumentError } from 'commander'

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
