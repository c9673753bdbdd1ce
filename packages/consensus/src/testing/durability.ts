import type { Entry, HardState, NodeId, PeerMessage } from '../types.js'
import type { CommittedRegistry } from './committed-registry.js'
import type { SimDisk } from './disk.js'
import { durableEntryAt, type Fail } from './checker.js'
import { describeEntry } from './identity.js'

/**
 * What the `Ready` ordering rule promises about the disk, checked without knowing the protocol:
 *
 * - the durable term (Raft term, Paxos promised ballot) never goes down, and a durable vote
 *   never changes within its term;
 * - a message that must wait for the write (`messagesAfterPersist`: votes, acks, promises)
 *   never speaks for a term above the durable one;
 * - an entry handed out to apply is on this node's disk (or in its snapshot).
 */
export class Durability {
  private readonly lastHardState = new Map<NodeId, HardState>()

  constructor(
    private readonly registry: CommittedRegistry,
    private readonly fail: Fail,
  ) {}

  observePersist(node: NodeId, disk: SimDisk): void {
    const now = disk.hardState
    if (now === null) return
    const before = this.lastHardState.get(node)
    this.lastHardState.set(node, now)
    if (before === undefined) return
    if (now.term < before.term) {
      this.fail('durability', [node], `${node}'s durable term went back from ${before.term} to ${now.term}`)
    }
    if (now.term === before.term && before.vote !== null && now.vote !== before.vote) {
      this.fail('durability', [node], `${node}'s durable vote in term ${now.term} changed from ${before.vote} to ${now.vote ?? 'none'}`)
    }
  }

  observeSendAfterPersist(node: NodeId, message: PeerMessage, disk: SimDisk): void {
    const durableTerm = disk.hardState?.term ?? 0
    if (message.term > durableTerm) {
      this.fail('durability', [node, message.to],
        `${node} sends ${message.type} for term ${message.term} to ${message.to} after persisting, but its durable term is ${durableTerm}`)
    }
  }

  observeApply(node: NodeId, entry: Entry, disk: SimDisk): void {
    const held = durableEntryAt(disk, entry.index)
    if (held === undefined || this.registry.keyOf(held) !== this.registry.keyOf(entry)) {
      this.fail('durability', [node],
        `${node} was handed ${describeEntry(entry)} to apply but holds ${describeEntry(held)} durably at that index`)
    }
  }
}
