import { isVoter, type NodeId } from '@kv/consensus'
import { campaign } from './election.js'
import type { RaftNode } from './raft.js'
import { sendAppend } from './replication.js'

/**
 * Leadership transfer (Raft thesis §3.10): stop taking proposals, bring the target's log up
 * to ours, then tell it to campaign at once. Abandoned after an election timeout (tick).
 */
export function startTransfer(r: RaftNode, to: NodeId): void {
  if (r.role !== 'leader' || to === r.id || !isVoter(r.membership, to) || r.transferee === to) return
  r.transferee = to
  r.transferElapsed = 0
  if (!maybeSendTimeoutNow(r, to)) sendAppend(r, to, false)
}

export function abortTransfer(r: RaftNode): void {
  r.transferee = null
  r.transferElapsed = 0
}

/** Sends TimeoutNow once `peer`, the transfer target, holds our whole log. */
export function maybeSendTimeoutNow(r: RaftNode, peer: NodeId): boolean {
  if (r.transferee !== peer || r.progress.get(peer)?.matchIndex !== r.log.lastIndex()) return false
  r.send({ type: 'TimeoutNow', to: peer }, 'now')
  return true
}

/** The leader hands over: campaign now, without pre-vote, past the voters' lease. */
export function onTimeoutNow(r: RaftNode): void {
  campaign(r, 'transfer')
}
