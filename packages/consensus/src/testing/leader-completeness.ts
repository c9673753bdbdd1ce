import type { NodeId, Status } from '../types.js'
import type { CommittedRecord, CommittedRegistry } from './committed-registry.js'
import type { SimDisk } from './disk.js'
import { durableEntryAt, type Fail } from './checker.js'
import { describeEntry } from './identity.js'

interface Obligation {
  readonly term: number
  readonly sinceTick: number
  /** Entries seen committed, in terms below `term`, before the node became leader. */
  readonly required: readonly CommittedRecord[]
}

/**
 * Leader completeness (Raft §5.4): an entry committed before a node becomes leader in a later
 * term is in that leader's log. The obligation is taken when the node is first seen leading
 * and is checked against its durable log (or snapshot) once it has persisted everything it has
 * to (its core has no Ready left): a new leader may still be writing what it learned while
 * being elected. A leader that stops leading before then is let off.
 */
export class LeaderCompleteness {
  private readonly leadingTerm = new Map<NodeId, number>()
  private readonly pending = new Map<NodeId, Obligation>()

  constructor(
    private readonly registry: CommittedRegistry,
    private readonly fail: Fail,
    private readonly now: () => number,
  ) {}

  observeStatus(status: Status): void {
    const node = status.id
    if (status.role !== 'leader') {
      this.leadingTerm.delete(node)
      this.pending.delete(node)
      return
    }
    if (this.leadingTerm.get(node) === status.term) return
    this.leadingTerm.set(node, status.term)
    const required: CommittedRecord[] = []
    for (const [, record] of this.registry.records()) if (record.entry.term < status.term) required.push(record)
    this.pending.set(node, { term: status.term, sinceTick: this.now(), required })
  }

  /** `node`'s core has nothing left to persist: its durable log is its log. */
  observeIdle(status: Status, disk: SimDisk): void {
    const obligation = this.pending.get(status.id)
    if (obligation === undefined) return
    this.pending.delete(status.id)
    if (status.role !== 'leader' || status.term !== obligation.term) return
    for (const record of obligation.required) {
      const held = durableEntryAt(disk, record.entry.index)
      if (held === undefined || this.registry.keyOf(held) !== record.key) {
        this.fail('leader completeness', [record.node, status.id],
          `${status.id} leads term ${obligation.term} (since tick ${obligation.sinceTick}) without ${describeEntry(record.entry)}, which ${record.node} had ${record.how} at tick ${record.tick}; it holds ${describeEntry(held)} there`)
      }
    }
  }

  observeCrash(node: NodeId): void {
    this.leadingTerm.delete(node)
    this.pending.delete(node)
  }
}
