import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Entry, Ready } from '@kv/consensus'
import { DurableReplicaStorage } from './durable-storage.js'
import { bytes, text, useTempDir } from './fixtures/tmp.js'

const normal = (index: number, term: number): Entry => ({ type: 'normal', index, term, data: bytes(`cmd-${index}`) })
type PersistPart = Pick<Ready, 'hardState' | 'snapshot' | 'truncateFrom' | 'entries'>
const ready = (part: Partial<PersistPart>): PersistPart => ({ hardState: null, snapshot: null, truncateFrom: null, entries: [], ...part })
const OPTIONS = { clusterId: 'cluster-1', wal: { maxSegmentBytes: 4096 } }

describe('DurableReplicaStorage', () => {
  let dir = ''
  useTempDir((d) => (dir = path.join(d, 'replica')))

  it('a new replica starts with nothing persisted', async () => {
    const { storage, persisted, appliedIndex } = await DurableReplicaStorage.open(dir, OPTIONS)
    expect(persisted).toEqual({ hardState: null, snapshot: null, entries: [] })
    expect(appliedIndex).toBe(0)
    await storage.close()
  })

  it('gives back the same PersistedState after reopen', async () => {
    const { storage } = await DurableReplicaStorage.open(dir, OPTIONS)
    await storage.persistReady(ready({ hardState: { term: 1, vote: 'n1', commit: 0 }, entries: [normal(1, 1), normal(2, 1), normal(3, 1)] }))
    await storage.persistReady(ready({ hardState: { term: 2, vote: 'n2', commit: 2 }, truncateFrom: 3, entries: [normal(3, 2), normal(4, 2)] }))
    await storage.state.applyBatch(2, [{ table: 'kv', key: 'a', value: bytes('A') }])
    await storage.close()

    const { storage: again, persisted, appliedIndex } = await DurableReplicaStorage.open(dir, OPTIONS)
    expect(persisted.hardState).toEqual({ term: 2, vote: 'n2', commit: 2 })
    expect(persisted.snapshot).toBeNull()
    expect(persisted.entries.map((e) => `${e.index}@${e.term}`)).toEqual(['1@1', '2@1', '3@2', '4@2'])
    expect(appliedIndex).toBe(2)
    expect(text(again.state.get('kv', 'a'))).toBe('A')
    await again.close()
  })

  it('a Ready carrying a leader snapshot is restored with its data and later entries', async () => {
    const { storage } = await DurableReplicaStorage.open(dir, OPTIONS)
    await storage.persistReady(ready({ entries: [normal(1, 1), normal(2, 1)] }))
    const snapshot = { index: 10, term: 3, data: bytes('image-at-10') }
    await storage.persistReady(ready({ snapshot, truncateFrom: 1, hardState: { term: 3, vote: null, commit: 10 } }))
    await storage.persistReady(ready({ entries: [normal(11, 3)] }))
    await storage.close()

    const { storage: again, persisted } = await DurableReplicaStorage.open(dir, OPTIONS)
    expect(persisted.snapshot?.index).toBe(10)
    expect(text(persisted.snapshot?.data)).toBe('image-at-10')
    expect(persisted.entries.map((e) => e.index)).toEqual([11])
    expect(persisted.hardState).toEqual({ term: 3, vote: null, commit: 10 })
    await again.close()
  })

  it('persists Readys handed out while earlier ones are in flight in order, sharing fdatasyncs', async () => {
    const { storage } = await DurableReplicaStorage.open(dir, OPTIONS)
    const before = storage.walStats().syncs
    const writes = Array.from({ length: 16 }, (_, i) => storage.persistReady(ready({ entries: [normal(i + 1, 1)], hardState: { term: 1, vote: null, commit: i } })))
    await Promise.all(writes)
    // The first write syncs alone; those issued during its sync share the next one.
    expect(storage.walStats().syncs - before).toBeLessThanOrEqual(2)
    await storage.close()
    const { storage: again, persisted } = await DurableReplicaStorage.open(dir, OPTIONS)
    expect(persisted.entries.map((e) => e.index)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1))
    expect(persisted.hardState?.commit).toBe(15)
    await again.close()
  })

  it('writes a Ready handed out behind one carrying a leader snapshot after it, though the snapshot file is saved first', async () => {
    const { storage } = await DurableReplicaStorage.open(dir, OPTIONS)
    await storage.persistReady(ready({ entries: [normal(1, 1), normal(2, 1)] }))
    const snapshot = { index: 10, term: 3, data: bytes('image-at-10'.repeat(1000)) }
    // Not awaited in between: the second Ready's write must not overtake the first's (whose
    // truncation would then cut entry 11 on replay).
    const first = storage.persistReady(ready({ snapshot, truncateFrom: 1, hardState: { term: 3, vote: null, commit: 10 } }))
    const second = storage.persistReady(ready({ entries: [normal(11, 3)] }))
    const third = storage.persistReady(ready({ entries: [normal(12, 3)], hardState: { term: 3, vote: null, commit: 11 } }))
    await Promise.all([first, second, third])
    await storage.close()

    const { storage: again, persisted } = await DurableReplicaStorage.open(dir, OPTIONS)
    expect(persisted.snapshot?.index).toBe(10)
    expect(persisted.entries.map((e) => e.index)).toEqual([11, 12])
    expect(persisted.hardState).toEqual({ term: 3, vote: null, commit: 11 })
    await again.close()
  })

  it('saveSnapshot releases WAL segments only below the durably flushed applied index', async () => {
    const { storage } = await DurableReplicaStorage.open(dir, OPTIONS)
    for (let i = 1; i <= 40; i++) {
      await storage.persistReady(ready({ entries: [{ type: 'normal', index: i, term: 1, data: bytes('p'.repeat(400)) }], hardState: { term: 1, vote: 'n1', commit: i } }))
    }
    // The state machine applied only up to 12: the snapshot at 30 must not release entries above 12.
    await storage.state.applyBatch(12, [{ table: 'kv', key: 'k', value: bytes('v') }])
    const segments = storage.walStats().segments
    const released = await storage.saveSnapshot({ index: 30, term: 1, data: bytes('app-snap-30') })
    expect(released).toBeGreaterThan(0)
    expect(storage.walStats().segments).toBe(segments - released)
    await storage.close()

    const { storage: again, persisted, appliedIndex } = await DurableReplicaStorage.open(dir, OPTIONS)
    expect(appliedIndex).toBe(12)
    expect(persisted.snapshot?.index).toBe(30)
    expect(persisted.hardState).toEqual({ term: 1, vote: 'n1', commit: 40 })
    expect(persisted.entries.map((e) => e.index)).toEqual(Array.from({ length: 10 }, (_, i) => 31 + i))
    await again.close()
  })

  it('refuses to open the directory of another cluster', async () => {
    const { storage } = await DurableReplicaStorage.open(dir, OPTIONS)
    await storage.close()
    await expect(DurableReplicaStorage.open(dir, { ...OPTIONS, clusterId: 'cluster-2' })).rejects.toMatchObject({ code: 'WRONG_CLUSTER' })
  })
})
