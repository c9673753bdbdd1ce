import type { Entry, NodeId, PeerMessage, Ready, Status } from '../types.js'
import { CommittedRegistry } from './committed-registry.js'
import type { Fail } from './checker.js'
import type { SimDisk } from './disk.js'
import { Durability } from './durability.js'
import { ElectionSafety } from './election-safety.js'
import { LeaderCompleteness } from './leader-completeness.js'
import { LogMatching } from './log-matching.js'
import { StateMachineSafety } from './state-machine-safety.js'

export interface MonitorOptions {
  /** Also check Raft's full log matching property on durable logs (and compare entry terms). */
  readonly strictLogMatching: boolean
}

/**
 * All the safety checkers of one run, fed by the cluster as things happen. Each observation
 * checks at once and throws (through `fail`) on the first broken property.
 */
export class SafetyMonitor {
  readonly registry: CommittedRegistry
  private readonly electionSafety: ElectionSafety
  private readonly logMatching: LogMatching
  private readonly leaderCompleteness: LeaderCompleteness
  private readonly stateMachineSafety: StateMachineSafety
  private readonly durability: Durability

  constructor(
    options: MonitorOptions,
    private readonly fail: Fail,
    now: () => number,
  ) {
    this.registry = new CommittedRegistry(options.strictLogMatching, now)
    this.electionSafety = new ElectionSafety(fail, now)
    this.logMatching = new LogMatching(this.registry, options.strictLogMatching, fail, now)
    this.leaderCompleteness = new LeaderCompleteness(this.registry, fail, now)
    this.stateMachineSafety = new StateMachineSafety(this.registry, fail)
    this.durability = new Durability(this.registry, fail)
  }

  /** After every step of a node (tick, message, proposal, advance, compact). */
  observeStatus(node: NodeId, status: Status): void {
    if (status.id !== node) this.fail('invariant', [node], `${node}'s core reports id ${status.id}`)
    this.electionSafety.observe(status)
    this.leaderCompleteness.observeStatus(status)
  }

  /** The shell made a Ready durable on `disk`. */
  observePersist(node: NodeId, ready: Ready, disk: SimDisk): void {
    this.durability.observePersist(node, disk)
    this.logMatching.observePersist(node, ready, disk)
  }

  /** The shell is about to send one of a Ready's `messagesAfterPersist`. */
  observeSendAfterPersist(node: NodeId, message: PeerMessage, disk: SimDisk): void {
    this.durability.observeSendAfterPersist(node, message, disk)
  }

  /** The shell restored `node`'s state machine from a snapshot holding `entries`. */
  observeRestore(node: NodeId, snapshotIndex: number, entries: readonly Entry[], appliedIndex: number): void {
    this.stateMachineSafety.observeRestore(node, snapshotIndex, entries, appliedIndex)
  }

  /** The shell applies a committed entry; the contract says it is durable on this node by now. */
  observeApply(node: NodeId, entry: Entry, appliedIndex: number, disk: SimDisk): void {
    this.stateMachineSafety.observeApply(node, entry, appliedIndex)
    this.durability.observeApply(node, entry, disk)
  }

  /** `node`'s core returned no Ready: everything it has is durable. */
  observeIdle(status: Status, disk: SimDisk): void {
    this.leaderCompleteness.observeIdle(status, disk)
  }

  observeCrash(node: NodeId): void {
    this.leaderCompleteness.observeCrash(node)
  }

  get leaderTerms(): number {
    return this.electionSafety.termsWithLeader
  }
}
