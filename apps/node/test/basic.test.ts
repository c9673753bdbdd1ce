/**
 * The plain operations against a healthy 3-replica cluster of real processes, for both
 * protocols: answers, then the history of every call checked for linearizability.
 */
import { HistoryRecorder } from '@kv/sim'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { attempt, expectLinearizable, printLogsOnFailure, ProcessCluster } from './harness.js'

const protocols = [
  { protocol: 'raft', basePort: 21100 },
  { protocol: 'paxos', basePort: 21110 },
] as const

describe.each(protocols)('$protocol: basic operations', ({ protocol, basePort }) => {
  let cluster: ProcessCluster | null = null
  const c = () => cluster!
  printLogsOnFailure(() => cluster)

  beforeAll(async () => {
    cluster = ProcessCluster.start({ name: `basic-${protocol}`, basePort, protocol })
    await cluster.waitForLeader()
  }, 120_000)
  afterAll(async () => {
    await cluster?.stop()
  })

  it('puts, gets, overwrites and deletes a key', async () => {
    const history = new HistoryRecorder()
    const kv = c().recordingClient(history, 0)
    await kv.put('fruit', 'apple')
    expect(await kv.get('fruit')).toBe('apple')
    await kv.put('fruit', 'pear')
    expect(await kv.get('fruit')).toBe('pear')
    expect(await kv.delete('fruit')).toBe(true)
    expect(await kv.get('fruit')).toBeNull()
    expectLinearizable(history)
  })

  it('answers a missing key with null and deleting it with existed=false', async () => {
    const history = new HistoryRecorder()
    const kv = c().recordingClient(history, 0)
    expect(await kv.get('never-written')).toBeNull()
    expect(await kv.delete('never-written')).toBe(false)
    await kv.put('gone', 'x')
    expect(await kv.delete('gone')).toBe(true)
    expect(await kv.delete('gone')).toBe(false)
    expect(await kv.get('gone')).toBeNull()
    expectLinearizable(history)
  })

  it('appends to a key and batch-puts several keys in one step', async () => {
    const history = new HistoryRecorder()
    const kv = c().recordingClient(history, 0)
    await kv.append('log', 'a')
    await kv.append('log', 'b')
    expect(await kv.get('log')).toBe('ab')
    await kv.batchPut([['b1', 'one'], ['b2', 'two'], ['b3', 'three']])
    expect([await kv.get('b1'), await kv.get('b2'), await kv.get('b3')]).toEqual(['one', 'two', 'three'])
    await kv.batchPut([['b1', 'uno'], ['b3', 'tres']])
    expect([await kv.get('b1'), await kv.get('b2'), await kv.get('b3')]).toEqual(['uno', 'two', 'tres'])
    expectLinearizable(history)
  })

  it('stays linearizable with concurrent puts to one key and gets right after', async () => {
    const history = new HistoryRecorder()
    const clients = Array.from({ length: 4 }, (_, i) => c().recordingClient(history, i))
    for (let round = 0; round < 8; round++) {
      await Promise.all(
        clients.map(async (kv, i) => {
          await kv.put('hot', `r${round}.c${i}`)
          const seen = await kv.get('hot')
          expect(seen).toMatch(new RegExp(`^r${round}\\.c[0-3]$`))
        }),
      )
    }
    const last = await clients[0]!.get('hot')
    expect(last).toMatch(/^r7\.c[0-3]$/)
    expectLinearizable(history)
  })

  it('stays linearizable with a concurrent delete and put of one key', async () => {
    const history = new HistoryRecorder()
    const a = c().recordingClient(history, 0)
    const b = c().recordingClient(history, 1)
    const r = c().recordingClient(history, 2)
    for (let round = 0; round < 10; round++) {
      const results = await Promise.all([attempt(a.put('contested', `v${round}`)), attempt(b.delete('contested')), attempt(r.get('contested'))])
      for (const res of results) expect(res.ok).toBe(true)
      const after = await r.get('contested')
      expect(after === null || after === `v${round}`).toBe(true)
    }
    expectLinearizable(history)
  })
})
