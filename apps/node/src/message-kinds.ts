/**
 * Message kinds for fault injection (`--drop-kinds`): the same four names for both protocols.
 *   append         replication and heartbeats (Raft AppendEntries...; Paxos accept, commit, learn...)
 *   vote           elections (Raft PreVote/RequestVote/TimeoutNow; Paxos prepare/promise/reject...)
 *   client-request a client's request arriving at a replica
 *   client-reply   a replica's answer to a client
 */
export const messageKinds = ['append', 'vote', 'client-request', 'client-reply'] as const
export type MessageKind = (typeof messageKinds)[number]

const voteTypes = new Set([
  'PreVote', 'PreVoteResponse', 'RequestVote', 'RequestVoteResponse', 'TimeoutNow',
  'pre-prepare', 'pre-promise', 'prepare', 'promise', 'reject', 'timeout-now',
])

export function classifyMessage(msg: { readonly type: string; readonly replicaId?: unknown }): string {
  switch (msg.type) {
    case 'kv':
      return 'client-request'
    case 'status':
      // A status request has no replicaId; a status reply does.
      return msg.replicaId === undefined ? 'client-request' : 'client-reply'
    case 'result':
    case 'error':
      return 'client-reply'
    default:
      return voteTypes.has(msg.type) ? 'vote' : 'append'
  }
}

export function parseDropKinds(text: string): MessageKind[] {
  const kinds = text.split(',').map((k) => k.trim()).filter((k) => k.length > 0)
  for (const k of kinds) {
    if (!(messageKinds as readonly string[]).includes(k)) {
      throw new Error(`unknown message kind "${k}" (expected some of: ${messageKinds.join(', ')})`)
    }
  }
  return kinds as MessageKind[]
}
