import type { NodeId, Status } from '../types.js'
import type { Fail } from './checker.js'

/** Raft §5.2 (and Paxos's unique ballots): at most one node ever leads in a given term. */
export class ElectionSafety {
  private readonly leaderOf = new Map<number, { node: NodeId; tick: number }>()

  constructor(
    private readonly fail: Fail,
    private readonly now: () => number,
  ) {}

  observe(status: Status): void {
    if (status.role !== 'leader') return
    const earlier = this.leaderOf.get(status.term)
    if (earlier === undefined) {
      this.leaderOf.set(status.term, { node: status.id, tick: this.now() })
    } else if (earlier.node !== status.id) {
      this.fail('election safety', [earlier.node, status.id],
        `two leaders in term ${status.term}: ${earlier.node} (since tick ${earlier.tick}) and ${status.id}`)
    }
  }

  /** Terms that have had a leader, for tests and reports. */
  get termsWithLeader(): number {
    return this.leaderOf.size
  }
}
