import type { PeerMessage } from '@kv/consensus'
import type { LogRecord } from './log-record.js'

/**
 * A message between replicas of two different groups (a shard group asking the controller
 * for a shard map; migration traffic between shard groups). It travels on the same peer
 * links as consensus messages (`from`/`to` are replica ids, unique cluster-wide) and is told
 * apart by `toGroup`. Fire and forget, like every peer message: senders retry on their ticks.
 */
export interface GroupMessage extends PeerMessage {
  readonly fromGroup: string
  readonly toGroup: string
  /**
   * Set when a replica of `toGroup` that does not lead handed the message on to its leader
   * (`Replica.step`): the replica it came through. A message is handed on once at most.
   */
  readonly via?: string
}

export function isGroupMessage(msg: PeerMessage): msg is GroupMessage {
  const m = msg as Partial<GroupMessage>
  return typeof m.toGroup === 'string' && typeof m.fromGroup === 'string'
}

/** A group message as a machine writes it: the shell fills in who sends it. */
export type OutgoingGroupMessage<M extends GroupMessage = GroupMessage> = Omit<M, 'from' | 'fromGroup' | 'term'>

/**
 * What a state machine may do outside applying records: the shell's services, handed to
 * `onGroupMessage` and `tick`. Pure like the machine: the shell decides what they do.
 */
export interface MachineContext {
  /** This replica and its group. */
  readonly replicaId: string
  readonly groupId: string
  /** This replica leads its group now (only a leader should start cross-group work). */
  readonly isLeader: boolean
  /** The leader's term (Paxos: ballot): what a leader proposed in an earlier term may be lost. */
  readonly term: number
  /** The node's clock in ms, as the leader stamps records with it. */
  readonly nowMs: number
  /** Sends a message to a replica of another group. */
  send(msg: OutgoingGroupMessage): void
  /**
   * Proposes a record to this group's log. False when the core did not take it: not the
   * leader, or (Raft) a leadership transfer under way. Propose it again later; only a true
   * means it is in this term's log.
   */
  propose(record: LogRecord): boolean
}
