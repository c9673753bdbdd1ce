import { describe, expect, it } from 'vitest'
import { WrongClusterError } from './errors.js'
import { bytes, makeTempDir, text, useTempDir } from './fixtures/tmp.js'
import { StateStore } from './state-store.js'

describe('StateStore', () => {
  let dir = ''
  useTempDir((d) => (dir = d))

  it('applies a batch of ops and the applied index together', async () => {
    const store = await StateStore.open(dir, { clusterId: 'c1' })
    expect(store.appliedIndex()).toBe(0)
    await store.applyBatch(3, [
      { table: 'kv', key: 'a', value: bytes('1') },
      { table: 'kv', key: 'b', value: bytes('2') },
      { table: 'sessions', key: 'client-1', value: bytes('seq=4') },
    ])
    await store.applyBatch(4, [{ table: 'kv', key: 'a', value: null }])
    expect(store.appliedIndex()).toBe(4)
    expect(store.get('kv', 'a')).toBeUndefined()
    expect(text(store.get('kv', 'b'))).toBe('2')
    expect([...store.entries('sessions')].map(([k, v]) => [k, text(v)])).toEqual([['client-1', 'seq=4']])
    await store.close()
  })

  it('finds the flushed state again after reopen', async () => {
    const store = await StateStore.open(dir, { clusterId: 'c1' })
    for (let i = 1; i <= 50; i++) void store.applyBatch(i, [{ table: 'kv', key: `k${i}`, value: bytes(`v${i}`) }])
    expect(await store.flush()).toBe(50)
    expect(store.durableAppliedIndex()).toBe(50)
    await store.close()

    const reopened = await StateStore.open(dir, { clusterId: 'c1' })
    expect(reopened.appliedIndex()).toBe(50)
    expect(text(reopened.get('kv', 'k37'))).toBe('v37')
    expect([...reopened.entries('kv')]).toHaveLength(50)
    await reopened.close()
  })

  it('a read snapshot keeps seeing one applied index while writes go on', async () => {
    const store = await StateStore.open(dir, { clusterId: 'c1' })
    await store.applyBatch(1, [{ table: 'kv', key: 'x', value: bytes('old') }])
    const view = store.readSnapshot()
    await store.applyBatch(2, [
      { table: 'kv', key: 'x', value: bytes('new') },
      { table: 'kv', key: 'y', value: bytes('added') },
      { table: 'other', key: 'z', value: bytes('z') },
    ])
    expect(text(store.get('kv', 'x'))).toBe('new')
    expect(view.appliedIndex).toBe(1)
    expect(text(view.get('kv', 'x'))).toBe('old')
    expect([...view.entries('kv')].map(([k, v]) => `${k}=${text(v)}`)).toEqual(['x=old'])
    expect(view.tables()).toEqual(['kv'])
    view.close()
    expect(() => view.get('kv', 'x')).toThrow(expect.objectContaining({ code: 'STATE_CLOSED' }))
    await store.close()
  })

  it('replaceAll installs a whole state in one transaction', async () => {
    const store = await StateStore.open(dir, { clusterId: 'c1' })
    await store.applyBatch(5, [
      { table: 'kv', key: 'stale', value: bytes('1') },
      { table: 'sessions', key: 's', value: bytes('2') },
    ])
    await store.replaceAll(100, { kv: [['fresh', bytes('from-leader')]] })
    expect(store.appliedIndex()).toBe(100)
    expect(store.get('kv', 'stale')).toBeUndefined()
    expect(text(store.get('kv', 'fresh'))).toBe('from-leader')
    expect([...store.entries('sessions')]).toEqual([])
    await store.close()
  })

  it('refuses the directory of another cluster', async () => {
    const store = await StateStore.open(dir, { clusterId: 'cluster-a' })
    await store.close()
    await expect(StateStore.open(dir, { clusterId: 'cluster-b' })).rejects.toBeInstanceOf(WrongClusterError)
    await expect(StateStore.open(dir, { clusterId: 'cluster-b' })).rejects.toMatchObject({ code: 'WRONG_CLUSTER' })
    const same = await StateStore.open(dir, { clusterId: 'cluster-a' })
    await same.close()
  })

  it('refuses bad input with typed errors before writing anything', async () => {
    const store = await StateStore.open(dir, { clusterId: 'c1' })
    await store.applyBatch(2, [])
    expect(() => store.applyBatch(1, [])).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }))
    expect(() => store.applyBatch(3, [{ table: '$meta', key: 'k', value: null }])).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }))
    expect(() => store.applyBatch(3, [{ table: 'kv', key: '', value: null }])).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }))
    expect(store.appliedIndex()).toBe(2)
    await store.close()
  })
})

describe('StateStore replica ownership', () => {
  it('refuses the folder of another replica of the same cluster', async () => {
    const { dir, cleanup } = await makeTempDir()
    try {
      const first = await StateStore.open(dir, { clusterId: 'c1', replicaId: 'g1-r1' })
      await first.close()
      await expect(StateStore.open(dir, { clusterId: 'c1', replicaId: 'g1-r2' })).rejects.toMatchObject({ code: 'WRONG_REPLICA' })
      const again = await StateStore.open(dir, { clusterId: 'c1', replicaId: 'g1-r1' })
      await again.close()
    } finally {
      await cleanup()
    }
  })
})
