import { describe, expect, it } from 'vitest'
import type { KvClient } from './client.js'
import { createClient } from './index.js'
import { FakeCluster } from './testing/fake-cluster.js'
import { bytes, fastLimits, until, useFakeCluster } from './testing/helpers.js'

let cluster: FakeCluster
let client: KvClient
useFakeCluster((c, k) => ((cluster = c), (client = k)))

describe('operations', () => {
  it('round-trips strings and bytes through put, get, append and delete', async () => {
    await client.put('s', 'héllo')
    await client.put('b', new Uint8Array([0, 255, 7]))
    expect(await client.getString('s')).toBe('héllo')
    expect(await client.get('b')).toEqual(new Uint8Array([0, 255, 7]))
    await client.append('s', ' world')
    await client.append('b', bytes('!'))
    expect(await client.getString('s')).toBe('héllo world')
    expect(await client.get('b')).toEqual(new Uint8Array([0, 255, 7, 33]))
    expect(await client.delete('s')).toBe(true)
    expect(await client.delete('s')).toBe(false)
    expect(await client.get('s')).toBeNull()
    expect(await client.getString('missing')).toBeNull()
  })

  it('hands back plain Uint8Arrays, not Buffers', async () => {
    await client.put('k', 'v')
    expect((await client.get('k'))!.constructor).toBe(Uint8Array)
  })

  it('writes a batch given as pairs or as a record', async () => {
    await client.batchPut([['a', '1'], ['b', bytes('2')]])
    await client.batchPut({ c: '3', d: new Uint8Array([4]) })
    expect(await client.getString('a')).toBe('1')
    expect(await client.getString('b')).toBe('2')
    expect(await client.getString('c')).toBe('3')
    expect(await client.get('d')).toEqual(new Uint8Array([4]))
    expect(cluster.writesSeen().map((w) => w.op.op)).toEqual(['batchPut', 'batchPut'])
  })

  it('numbers writes 1, 2, 3 and sends reads with seq 0', async () => {
    await client.put('a', '1')
    await client.get('a')
    await client.put('a', '2')
    await client.delete('a')
    expect(cluster.seen.map((s) => [s.request.op.op, s.request.seq])).toEqual([['put', 1], ['get', 0], ['put', 2], ['delete', 3]])
    expect(new Set(cluster.seen.map((s) => s.request.clientId))).toEqual(new Set([client.clientId]))
  })

  it('reads stale from a follower only when asked', async () => {
    cluster.data.set('k', bytes('v'))
    cluster.leader = 'r2'
    expect(await client.getString('k', { stale: true })).toBe('v')
    expect(cluster.seen.map((s) => s.replica)).toEqual(['r1'])
  })

  it('reports the status of the leader or of one endpoint', async () => {
    cluster.leader = 'r2'
    expect(await client.status(cluster.endpoint('r3'))).toMatchObject({ type: 'status', replicaId: 'r3', role: 'follower', leader: 'r2' })
    expect((await client.status()).replicaId).toBe('r1')
    await expect(client.status('nowhere')).rejects.toMatchObject({ code: 'BAD_REQUEST' })
  })
})

describe('routing', () => {
  it('follows a NOT_LEADER hint straight to the leader', async () => {
    cluster.leader = 'r3'
    await client.put('k', 'v')
    expect(cluster.seen.map((s) => s.replica)).toEqual(['r1', 'r3'])
    await client.put('k', 'w')
    expect(cluster.seen.map((s) => s.replica)).toEqual(['r1', 'r3', 'r3'])
  })

  it('maps hints to endpoints learned from the welcome when given bare endpoints', async () => {
    const bare = createClient({ endpoints: cluster.endpoints(), clusterId: 'test-cluster', token: 'test-token', limits: fastLimits })
    try {
      cluster.giveHints = false
      cluster.leader = 'r3'
      await bare.put('k', '1') // r1, r2, r3: every id is learned on the way
      cluster.giveHints = true
      cluster.leader = 'r2'
      await bare.put('k', '2')
      expect(cluster.seen.map((s) => s.replica)).toEqual(['r1', 'r2', 'r3', 'r3', 'r2'])
    } finally {
      await bare.close()
    }
  })

  it('fails over to the next replica when the leader stops', async () => {
    await client.put('k', '1')
    cluster.leader = 'r2'
    await cluster.stop('r1')
    await client.put('k', '2')
    expect(await client.getString('k')).toBe('2')
    expect(cluster.seen.at(-2)!.replica).toBe('r2')
  })

  it('retries a write whose reply was dropped under the same seq: applied once, first answer returned', async () => {
    await client.put('k', 'v')
    let dropped = 0
    cluster.policy = (seen) => (seen.request.op.op === 'delete' && dropped++ === 0 ? 'drop' : 'send')
    expect(await client.delete('k')).toBe(true) // a second apply would answer false
    const deletes = cluster.writesSeen().filter((w) => w.op.op === 'delete')
    expect(deletes.length).toBeGreaterThanOrEqual(2)
    expect(new Set(deletes.map((w) => w.seq))).toEqual(new Set([2]))
    expect(cluster.applied).toEqual([`${client.clientId}/1`, `${client.clientId}/2`])
  })

  it('retries a write lost with its leader on the new leader, under the same seq', async () => {
    await client.put('n', '0')
    cluster.policy = (seen) => (seen.replica === 'r1' && seen.request.op.op === 'append' ? 'hold' : 'send')
    const appended = client.append('n', '+') // r1 applies it, then dies before answering
    await until(() => cluster.held.length === 1)
    cluster.held.length = 0
    cluster.leader = 'r2'
    await cluster.stop('r1')
    await appended
    expect(await client.getString('n')).toBe('0+')
    const appends = cluster.writesSeen().filter((w) => w.op.op === 'append')
    expect(appends.map((w) => [w.seq, cluster.seen.find((s) => s.request === w)!.replica])).toEqual([[2, 'r1'], [2, 'r2']])
    expect(cluster.applied.filter((a) => a.endsWith('/2'))).toHaveLength(1)
  })
})
