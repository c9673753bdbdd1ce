import type { CoreFactory } from '@kv/consensus'
import { createPaxos } from '@kv/paxos'
import { createRaft } from '@kv/raft'

export type Protocol = 'raft' | 'paxos'

export const protocols: Readonly<Record<Protocol, CoreFactory>> = { raft: createRaft, paxos: createPaxos }

export function isProtocol(x: string): x is Protocol {
  return x === 'raft' || x === 'paxos'
}
