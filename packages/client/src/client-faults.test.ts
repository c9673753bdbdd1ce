import { describe, expect, it } from 'vitest'
import type { KvClient } from './client.js'
import { limits } from '@kv/protocol'
import {
  AbortError,
  BadRequestError,
  ClosedError,
  NotLeaderError,
  SessionExpiredError,
  TimeoutError,
  UnavailableError,
  createClient,
  type Connector,
} from './index.js'
import { FakeCluster } from './testing/fake-cluster.js'
import { clientFor, deadPort, fastLimits, patientLimits, until, useFakeCluster } from './testing/helpers.js'

let cluster: FakeCluster
let client: KvClient
useFakeCluster((c, k) => ((cluster = c), (client = k)))

describe('the acknowledged watermark', () => {
  it('advances only over a settled prefix when answers come out of order', async () => {
    const patient = clientFor(cluster, { limits: patientLimits })
    try {
      cluster.policy = () => 'hold'
      const writes = [patient.put('a', '1'), patient.put('b', '2'), patient.put('c', '3')]
      await until(() => cluster.held.length === 3)
      expect(cluster.held.map((h) => h.seen.request.seq)).toEqual([1, 2, 3])
      const watermarks: number[] = []
      for (const seq of [3, 1, 2]) {
        cluster.releaseSeqs([seq])
        await writes[seq - 1]
        watermarks.push(patient.ackedSeq)
      }
      expect(watermarks).toEqual([0, 1, 3])
      cluster.policy = () => 'send'
      await patient.put('d', '4')
      expect(cluster.seen.at(-1)!.request).toMatchObject({ seq: 4, ackedSeq: 3 })
    } finally {
      await patient.close()
    }
  })

  it('passes an abandoned write, so the replicas will never apply it', async () => {
    await client.put('k', 'first')
    cluster.silent.add('r1')
    await expect(client.put('k', 'lost', { timeoutMs: 300 })).rejects.toBeInstanceOf(TimeoutError)
    expect(client.ackedSeq).toBe(2)
    cluster.silent.clear()
    await client.put('k', 'kept')
    expect(cluster.seen.at(-1)!.request).toMatchObject({ seq: 3, ackedSeq: 2 })
    expect(cluster.applied).toEqual([`${client.clientId}/1`, `${client.clientId}/3`])
    expect(await client.getString('k')).toBe('kept')
  })

  it('keeps writing after its very first write was abandoned unapplied', async () => {
    cluster.silent.add('r1')
    await expect(client.put('k', 'lost', { timeoutMs: 300 })).rejects.toBeInstanceOf(TimeoutError)
    cluster.silent.clear()
    // No replica holds the session yet: a watermark now would be refused as SESSION_EXPIRED.
    await client.put('k', 'kept')
    expect(cluster.seen.at(-1)!.request).toMatchObject({ seq: 2, ackedSeq: 0 })
    await client.put('k', 'again')
    expect(cluster.seen.at(-1)!.request).toMatchObject({ seq: 3, ackedSeq: 2 })
    expect(cluster.applied).toEqual([`${client.clientId}/2`, `${client.clientId}/3`])
  })
})

describe('deadlines, aborts and unreachable clusters', () => {
  it('gives up at the call deadline with TimeoutError', async () => {
    for (const id of ['r1', 'r2', 'r3']) cluster.silent.add(id)
    const started = performance.now()
    const err: unknown = await client.get('k', { timeoutMs: 300 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TimeoutError)
    expect(err).toMatchObject({ code: 'TIMEOUT', timeoutMs: 300 })
    expect(performance.now() - started).toBeGreaterThanOrEqual(290)
    expect(performance.now() - started).toBeLessThan(1_500)
  })

  it('stops at once when the caller aborts', async () => {
    cluster.silent.add('r1')
    const controller = new AbortController()
    const pending = client.put('k', 'v', { signal: controller.signal })
    await until(() => cluster.seen.length === 1)
    controller.abort()
    await expect(pending).rejects.toBeInstanceOf(AbortError)
    await expect(client.get('k', { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORT_ERR' })
    expect(client.ackedSeq).toBe(1)
  })

  it('fails with UnavailableError when no replica can be reached', async () => {
    const ports = [await deadPort(), await deadPort()]
    const lonely = createClient({ endpoints: ports.map((p) => `127.0.0.1:${p}`), clusterId: 'c', token: 't', limits: fastLimits })
    try {
      const err: unknown = await lonely.put('k', 'v', { timeoutMs: 400 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(UnavailableError)
      expect((err as Error).message).toMatch(/no replica .* could be reached/)
    } finally {
      await lonely.close()
    }
  })
})

describe('refusals', () => {
  it('gives up with NotLeaderError when no replica leads and the attempts run out', async () => {
    cluster.leader = null
    const impatient = clientFor(cluster, { limits: { ...patientLimits, maxAttemptsPerCall: 6 } })
    try {
      const err: unknown = await impatient.put('k', 'v').catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NotLeaderError)
      expect(cluster.seen).toHaveLength(6)
    } finally {
      await impatient.close()
    }
  })

  it('says why when every replica refuses the handshake', async () => {
    const stranger = createClient({ endpoints: cluster.endpoints(), clusterId: 'test-cluster', token: 'wrong', limits: fastLimits, timeoutMs: 500 })
    try {
      await expect(stranger.get('k')).rejects.toThrow(UnavailableError)
      await expect(stranger.get('k')).rejects.toThrow(/wrong token/)
      expect(cluster.seen).toHaveLength(0)
    } finally {
      await stranger.close()
    }
  })

  it('surfaces a replica that forgot the session as SessionExpiredError', async () => {
    await client.put('k', '1')
    cluster.sessions.clear()
    await expect(client.put('k', '2')).rejects.toBeInstanceOf(SessionExpiredError)
  })
})

describe('bad input', () => {
  const noNetwork: Connector = () => {
    throw new Error('a bad request must not open a connection')
  }

  it.each([
    ['an empty key', (c: KvClient) => c.get('')],
    ['a key over the limit', (c: KvClient) => c.put('k'.repeat(limits.maxKeyBytes + 1), 'v')],
    ['a value over the limit', (c: KvClient) => c.put('k', new Uint8Array(limits.maxValueBytes + 1))],
    ['an empty batch', (c: KvClient) => c.batchPut([])],
    ['a number as a value', (c: KvClient) => c.append('k', 42 as unknown as string)],
    ['a non-positive timeout', (c: KvClient) => c.delete('k', { timeoutMs: 0 })],
  ])('refuses %s with BadRequestError before any network traffic', async (_name, call) => {
    const offline = createClient({ config: cluster.config(), connector: noNetwork })
    try {
      await expect(call(offline)).rejects.toBeInstanceOf(BadRequestError)
      expect(cluster.seen).toHaveLength(0)
    } finally {
      await offline.close()
    }
  })
})

describe('close', () => {
  it('fails calls after close, and calls in flight, with ClosedError', async () => {
    cluster.silent.add('r1')
    const inFlight = client.put('k', 'v').catch((e: unknown) => e)
    await until(() => cluster.seen.length === 1)
    await client.close()
    expect(await inFlight).toBeInstanceOf(ClosedError)
    await expect(client.get('k')).rejects.toBeInstanceOf(ClosedError)
    await expect(client.put('k', 'v')).rejects.toMatchObject({ code: 'CLOSED' })
    await until(() => cluster.connectionCount() === 0)
  })
})

describe('pipelining', () => {
  it('sends many concurrent calls over one connection before any answer', async () => {
    const patient = clientFor(cluster, { limits: patientLimits })
    try {
      cluster.policy = () => 'hold'
      const calls = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? patient.put(`k${i}`, `v${i}`) : patient.get(`k${i - 1}`)))
      await until(() => cluster.held.length === 200)
      expect(new Set(cluster.seen.map((s) => s.connId)).size).toBe(1)
      expect(cluster.connectionCount()).toBe(1)
      cluster.releaseAllReversed()
      await Promise.all(calls)
      expect(patient.ackedSeq).toBe(100)
      expect(cluster.applied).toHaveLength(100)
      expect(cluster.seen).toHaveLength(200)
    } finally {
      await patient.close()
    }
  })

  it('holds calls past maxInflight until a slot frees', async () => {
    const narrow = clientFor(cluster, { maxInflight: 2, limits: patientLimits })
    try {
      cluster.policy = () => 'hold'
      const calls = [narrow.put('a', '1'), narrow.put('b', '2'), narrow.put('c', '3')]
      await until(() => cluster.held.length === 2)
      await new Promise((r) => setTimeout(r, 50))
      expect(cluster.seen).toHaveLength(2)
      cluster.policy = () => 'send'
      cluster.releaseSeqs([1, 2])
      await Promise.all(calls)
      expect(cluster.seen.map((s) => s.request.seq)).toEqual([1, 2, 3])
    } finally {
      await narrow.close()
    }
  })
})
