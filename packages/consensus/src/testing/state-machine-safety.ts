import type { Entry, NodeId } from '../types.js'
import type { CommittedRegistry } from './committed-registry.js'
import type { Fail } from './checker.js'
import { describeEntry } from './identity.js'

/**
 * State machine safety (Raft §5.4.3): no two nodes apply different entries at one index, and
 * each node applies a gap-free sequence 1, 2, 3, ... (a snapshot restore jumps it forward).
 */
export class StateMachineSafety {
  constructor(
    private readonly registry: CommittedRegistry,
    private readonly fail: Fail,
  ) {}

  /** `node` applies `entry`; it had applied everything up to `appliedIndex` before. */
  observeApply(node: NodeId, entry: Entry, appliedIndex: number): void {
    if (entry.index !== appliedIndex + 1) {
      this.fail('state machine safety', [node],
        `${node} applied ${describeEntry(entry)} right after index ${appliedIndex}: applied sequences must be gap-free and in order`)
    }
    this.checkAgainstRegistry(node, entry, 'applied')
  }

  /** `node` restored its state machine from a snapshot holding `entries` (indexes 1..n). */
  observeRestore(node: NodeId, snapshotIndex: number, entries: readonly Entry[], appliedIndex: number): void {
    if (snapshotIndex < appliedIndex) {
      this.fail('state machine safety', [node],
        `${node} was handed a snapshot at index ${snapshotIndex} after applying up to ${appliedIndex}: its state machine would go back`)
    }
    if (entries.length !== snapshotIndex) {
      this.fail('state machine safety', [node],
        `${node} was handed a snapshot at index ${snapshotIndex} whose data holds ${entries.length} applied entries`)
    }
    entries.forEach((entry, i) => {
      if (entry.index !== i + 1) {
        this.fail('state machine safety', [node], `snapshot restored on ${node} has ${describeEntry(entry)} at position ${i + 1}`)
      }
      this.checkAgainstRegistry(node, entry, 'applied')
    })
  }

  private checkAgainstRegistry(node: NodeId, entry: Entry, how: 'applied'): void {
    const earlier = this.registry.record(entry, node, how)
    if (earlier !== null) {
      this.fail('state machine safety', [earlier.node, node],
        `${node} applied ${describeEntry(entry)} but ${earlier.node} ${earlier.how} ${describeEntry(earlier.entry)} at index ${entry.index} (tick ${earlier.tick})`)
    }
  }
}
