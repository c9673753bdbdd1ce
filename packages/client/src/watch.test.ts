/**
 * Watches and scans through the client against the fake cluster: every write of a key handed
 * out once, in order, across a leader change and a lost answer; CompactedError; the signal ends
 * it; a watch from a read's revision; scans paged with a continuation.
 */
import { describe, expect, it } from 'vitest'
import type { KvClient } from './client.js'
import { CompactedError } from './errors.js'
import type { FakeCluster } from './testing/fake-cluster.js'
import { until, useFakeCluster } from './testing/helpers.js'
import type { KvWatchEvent, Watch } from './watch.js'

let cluster: FakeCluster
let client: KvClient
useFakeCluster((c, k) => ((cluster = c), (client = k)))

const text = (e: KvWatchEvent) => `${e.type} ${e.key}${e.value === undefined ? '' : `=${new TextDecoder().decode(e.value)}`}`

/** Collects a watch's events in the background until stopped. */
function collect(watch: Watch) {
  const events: KvWatchEvent[] = []
  let error: unknown = null
  const done = (async () => {
    try {
      for await (const e of watch) events.push(e)
    } catch (e) {
      error = e
    }
  })()
  return { events, done, error: () => error }
}

describe('watch', () => {
  it('hands out every write of a key once, in order, from the revision it was read at', async () => {
    await client.put('k', 'v0')
    const { value, revision } = await client.getWithRevision('k')
    expect(new TextDecoder().decode(value)).toBe('v0')
    const w = client.watch('k', { fromRevision: revision, pollWaitMs: 200 })
    const c = collect(w)
    await client.put('k', 'v1')
    await client.append('k', '+')
    await client.put('other', 'x')
    await client.delete('k')
    await until(() => c.events.length === 3)
    expect(c.events.map(text)).toEqual(['put k=v1', 'append k=+', 'delete k'])
    expect(c.events.map((e) => e.revision)).toEqual(['0.2', '0.3', '0.5'])
    w.close()
    await c.done
    expect(c.error()).toBeNull()
    expect(w.cursor).toBe('0.5')
  })

  it('resumes on the new leader after a leader change and after a lost answer, with no gap and no repeat', async () => {
    const w = client.watch('k', { fromRevision: '0.0', pollWaitMs: 300 })
    const c = collect(w)
    await client.put('k', '1')
    await until(() => c.events.length === 1)
    cluster.moveLeader('r2') // the held poll is answered NOT_LEADER; the client follows the hint
    await client.put('k', '2')
    await until(() => c.events.length === 2)
    // The next answer to a watch poll is lost: the client polls again from the same revision.
    let dropped = 0
    cluster.policy = (seen) => (seen.request.op.op === 'watch' && dropped++ === 0 ? 'drop' : 'send')
    await client.put('k', '3')
    await client.put('k', '4')
    await until(() => c.events.length === 4, 5_000)
    expect(dropped).toBeGreaterThan(0)
    expect(c.events.map(text)).toEqual(['put k=1', 'put k=2', 'put k=3', 'put k=4'])
    w.close()
    await c.done
  })

  it('throws CompactedError with the oldest revision when the history no longer reaches back', async () => {
    await client.put('k', '1')
    await client.put('k', '2')
    cluster.horizon = 2
    const c = collect(client.watch('k', { fromRevision: '0.1' }))
    await c.done
    expect(c.error()).toBeInstanceOf(CompactedError)
    expect((c.error() as CompactedError).oldest).toBe('0.2')
  })

  it('ends when its signal fires, abandoning the poll in flight', async () => {
    const ac = new AbortController()
    const c = collect(client.watch({ prefix: 'p' }, { signal: ac.signal, pollWaitMs: 10_000 }))
    await until(() => cluster.seen.some((s) => s.request.op.op === 'watch' && s.request.op.fromRevision !== null))
    const started = Date.now()
    ac.abort()
    await c.done
    expect(Date.now() - started).toBeLessThan(1000)
    expect(c.error()).toBeNull()
  })

  it('watches a prefix from now: only the keys under it, in order', async () => {
    await client.put('p/old', 'x')
    const w = client.watch({ prefix: 'p/' }, { pollWaitMs: 200 })
    const c = collect(w)
    await until(() => w.cursor !== null)
    await client.put('p/a', '1')
    await client.put('q/a', '1')
    await client.batchPut({ 'p/b': '2', 'p/c': '3' })
    await until(() => c.events.length === 3)
    expect(c.events.map(text)).toEqual(['put p/a=1', 'put p/b=2', 'put p/c=3'])
    w.close()
    await c.done
  })

  it('refuses a bad revision or target before sending anything', () => {
    expect(() => client.watch('k', { fromRevision: 'yesterday' })).toThrow(/not a revision/)
    expect(() => client.watch('', {})).toThrow(/empty/)
    expect(() => client.watch({ prefix: 'p' }, { pollWaitMs: -1 })).toThrow(/pollWaitMs/)
  })
})

describe('scan', () => {
  it('pages through a prefix in key order with a continuation, either way', async () => {
    await client.batchPut(Object.fromEntries(['u/c', 'u/a', 'u/e', 'u/b', 'u/d', 'v/a'].map((k) => [k, k])))
    const seen: string[] = []
    let continuation: string | null | undefined
    for (let pages = 0; continuation !== null && pages < 10; pages++) {
      const page = await client.scan({ prefix: 'u/' }, { limit: 2, ...(continuation === undefined ? {} : { continuation }) })
      seen.push(...page.entries.map((e) => e.key))
      continuation = page.continuation
    }
    expect(seen).toEqual(['u/a', 'u/b', 'u/c', 'u/d', 'u/e'])
    const reversed = await client.scan({ start: 'u/b', end: 'u/e' }, { reverse: true })
    expect(reversed.entries.map((e) => e.key)).toEqual(['u/d', 'u/c', 'u/b'])
    expect(reversed.continuation).toBeNull()
  })

  it('refuses a continuation it did not make', async () => {
    await expect(client.scan({ prefix: 'u' }, { continuation: 'garbage!' })).rejects.toThrow(/continuation/)
  })
})
