import type { NodeId, Ready } from '../types.js'
import type { CommittedRegistry } from './committed-registry.js'
import type { SimDisk } from './disk.js'
import type { Fail } from './checker.js'
import { describeEntry, entryKey } from './identity.js'

interface IndexTermRecord {
  readonly key: string
  /** Term of the entry just before (0 before index 1): Raft's log matching, one step at a time. */
  readonly previousTerm: number
  readonly node: NodeId
  readonly tick: number
}

/**
 * Log matching, checked on durable logs each time a node persists a Ready.
 *
 * Committed prefix (every core): an entry a node holds durably at or below its durable commit
 * index is committed, so it must equal what every other node committed there.
 *
 * Strict (Raft §5.3, opt-in): two durable entries with the same index and term are identical
 * and so are their prefixes. Checked inductively: each (index, term) must always carry the
 * same entry and sit after the same previous term, and a log has no holes.
 */
export class LogMatching {
  /** Per node: durable commit index up to which its disk has been checked (the disk outlives crashes). */
  private readonly checkedCommit = new Map<NodeId, number>()
  private readonly byIndexTerm = new Map<string, IndexTermRecord>()

  constructor(
    private readonly registry: CommittedRegistry,
    private readonly strict: boolean,
    private readonly fail: Fail,
    private readonly now: () => number,
  ) {}

  observePersist(node: NodeId, ready: Ready, disk: SimDisk): void {
    this.checkCommittedPrefix(node, ready, disk)
    if (this.strict) this.checkStrict(node, ready, disk)
  }

  private checkCommittedPrefix(node: NodeId, ready: Ready, disk: SimDisk): void {
    const commit = disk.hardState?.commit ?? 0
    const checked = this.checkedCommit.get(node) ?? 0
    const indexes = new Set<number>()
    for (let i = Math.max(checked, disk.snapshotIndex) + 1; i <= commit; i++) indexes.add(i)
    for (const e of ready.entries) if (e.index <= commit) indexes.add(e.index)
    for (const index of indexes) {
      const entry = disk.entryAt(index)
      if (entry === undefined) continue
      const earlier = this.registry.record(entry, node, 'durably committed')
      if (earlier !== null) {
        this.fail('log matching', [earlier.node, node],
          `${node} holds ${describeEntry(entry)} durably at or below its commit index ${commit}, but ${earlier.node} ${earlier.how} ${describeEntry(earlier.entry)} there (tick ${earlier.tick})`)
      }
    }
    this.checkedCommit.set(node, Math.max(checked, commit))
  }

  private checkStrict(node: NodeId, ready: Ready, disk: SimDisk): void {
    const touched = new Set<number>()
    for (const e of ready.entries) {
      if (e.index <= disk.snapshotIndex) continue
      touched.add(e.index)
      touched.add(e.index + 1) // its successor now sits after a possibly different entry
    }
    if (ready.snapshot !== null) touched.add(disk.snapshotIndex + 1)
    for (const index of touched) this.checkIndexTerm(node, disk, index)
  }

  private checkIndexTerm(node: NodeId, disk: SimDisk, index: number): void {
    const entry = disk.entryAt(index)
    if (entry === undefined) return
    const snapshot = disk.snapshot
    const previousTerm = index - 1 === (snapshot?.index ?? 0) ? (snapshot?.term ?? 0) : disk.entryAt(index - 1)?.term
    if (previousTerm === undefined) {
      this.fail('strict log matching', [node], `${node}'s durable log has a hole at index ${index - 1} below ${describeEntry(entry)}`)
    }
    const id = `${index}:${entry.term}`
    const record: IndexTermRecord = { key: entryKey(entry, true), previousTerm, node, tick: this.now() }
    const earlier = this.byIndexTerm.get(id)
    if (earlier === undefined) {
      this.byIndexTerm.set(id, record)
    } else if (earlier.key !== record.key) {
      this.fail('strict log matching', [earlier.node, node],
        `${node} and ${earlier.node} (tick ${earlier.tick}) hold different entries at index ${index} term ${entry.term}; ${node} has ${describeEntry(entry)}`)
    } else if (earlier.previousTerm !== previousTerm) {
      this.fail('strict log matching', [earlier.node, node],
        `index ${index} term ${entry.term} follows term ${previousTerm} on ${node} but term ${earlier.previousTerm} on ${earlier.node} (tick ${earlier.tick}): the prefixes differ`)
    }
  }
}
