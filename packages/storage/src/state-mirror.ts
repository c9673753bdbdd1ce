/**
 * A state machine's tables, kept in the state store (LMDB) off the sync path. The machine
 * names its tables and hands over the rows each applied batch changed; this is the one place
 * that turns them into state-store transactions, and that loads them back at start-up.
 */
import type { StateStore, TableContents } from './state-store.js'

/** What a mirrored machine gives and takes (`@kv/server`'s machines have this shape). */
export interface MirroredMachine {
  readonly appliedIndex: number
  readonly tableNames: readonly string[]
  drainChanges(): {
    readonly restored: boolean
    readonly rows: ReadonlyArray<{ readonly table: string; readonly key: string; readonly value: Uint8Array | null }>
  }
  tableRows(table: string): Iterable<readonly [string, Uint8Array]>
  loadRow(table: string, key: string, value: Uint8Array): void
  loaded(appliedIndex: number): void
}

/** Loads `machine` with the rows of its tables; the store's applied index becomes the machine's. */
export function loadMachine(store: StateStore, machine: MirroredMachine): void {
  const view = store.readSnapshot()
  try {
    for (const table of machine.tableNames) {
      for (const [key, value] of view.entries(table)) machine.loadRow(table, key, value)
    }
    machine.loaded(view.appliedIndex)
  } finally {
    view.close()
  }
}

/**
 * Writes what the machine's last applied batch changed, in ONE transaction at its applied
 * index (the whole state when it was restored from a snapshot). Resolves when committed,
 * not when durable: the WAL still holds the entries until `StateStore.flush` says so.
 */
export function mirrorMachine(store: StateStore, machine: MirroredMachine): Promise<void> {
  const changes = machine.drainChanges()
  if (changes.restored) {
    const tables: Record<string, Iterable<readonly [string, Uint8Array]>> = {}
    for (const name of machine.tableNames) tables[name] = machine.tableRows(name)
    return store.replaceAll(machine.appliedIndex, tables satisfies TableContents)
  }
  return store.applyBatch(machine.appliedIndex, changes.rows)
}
