import type { Entry, NodeId } from '../types.js'
import type { SimDisk } from './disk.js'
import type { Property } from './failure.js'
import { snapshotEntries } from './snapshot-codec.js'

/** How a checker reports a broken property: it throws a `ConformanceError` with the run's context. */
export type Fail = (property: Property, nodes: readonly NodeId[], detail: string) => never

/**
 * The entry a node holds durably at `index`: from its log, or from its snapshot when the
 * snapshot covers the index. `undefined` when it holds nothing there.
 */
export function durableEntryAt(disk: SimDisk, index: number): Entry | undefined {
  const snapshot = disk.snapshot
  if (snapshot !== null && index <= snapshot.index) {
    const entries = snapshotEntries(snapshot.data)
    return entries?.[index - 1]
  }
  return disk.entryAt(index)
}
