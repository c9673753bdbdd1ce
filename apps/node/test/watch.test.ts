/**
 * Watches and range reads on real `kv node` processes, Raft and Paxos side by side: a key's watch
 * sees every committed write once, in order, with concurrent writers, across a dropped connection
 * and a SIGKILLed leader; a compacted revision gets CompactedError (and `kv watch` exit 3); `kv
 * scan` and `kv watch` print what they should; a key's watch and a prefix's watch keep going,
 * with no gap and no repeat, while the keys' arcs move to an added group and away from a removed one.
 *
 * "Once, in order" is checked by value: the writers append unique tokens, and the value the
 * watch's events build (appends concatenated, in the order handed out) must be exactly the value
 * a linearizable read returns at the end; every acknowledged token is in it once.
 */
import { CompactedError, createClient, type KvClient, type KvWatchEvent, type Watch } from '@kv/client'
import { compareRevisions, initialShardMap, parseRevision, ShardRouter, type ShardMap } from '@kv/protocol'
import { describe, expect, it } from 'vitest'
import { runKv, sleep, spawnKv, startCluster, waitFor, limitClustersAtOnce, type ProcessCluster } from './harness.js'
import { proxiedConfig } from './tcp-proxy.js'

limitClustersAtOnce(2)

const decoder = new TextDecoder()

/** Clients appending unique tokens (`c<client>.<n>;`) to `keys` until stopped. */
function appenders(cluster: ProcessCluster, keys: readonly string[], clients: number) {
  const state = { stop: false, acked: [] as Array<readonly [string, string]>, failed: 0 }
  const loops = Array.from({ length: clients }, async (_, c) => {
    const client = cluster.client({ timeoutMs: 8000 })
    for (let n = 0; !state.stop; n++) {
      const key = keys[(c * 3 + n) % keys.length]!
      const token = `c${c}.${n};`
      try {
        await client.append(key, token)
        state.acked.push([key, token])
      } catch {
        state.failed++
      }
    }
  })
  return {
    state,
    async stop() {
      state.stop = true
      await Promise.all(loops)
    },
  }
}

/** A watch's events, collected in the background. */
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

/** The value of each key that `events` build, applied in the order they were handed out. */
function replay(events: readonly KvWatchEvent[], start = new Map<string, string>()): Map<string, string> {
  const values = new Map(start)
  for (const e of events) {
    if (e.type === 'delete') values.delete(e.key)
    else if (e.type === 'put') values.set(e.key, decoder.decode(e.value))
    else values.set(e.key, (values.get(e.key) ?? '') + decoder.decode(e.value))
  }
  return values
}

/** Each key's revisions only grow (several events of one log entry share one). */
function expectRevisionsInOrder(events: readonly KvWatchEvent[]): void {
  const last = new Map<string, string>()
  for (const e of events) {
    const before = last.get(e.key)
    if (before !== undefined) expect(compareRevisions(parseRevision(before)!, parseRevision(e.revision)!), `${e.key}: ${before} then ${e.revision}`).toBeLessThanOrEqual(0)
    last.set(e.key, e.revision)
  }
}

/** Every acknowledged token is in its key's final value exactly once. */
function expectAckedOnce(acked: ReadonlyArray<readonly [string, string]>, finals: ReadonlyMap<string, string>): void {
  for (const [key, token] of acked) expect(finals.get(key)?.split(token).length, `${token} in ${key}`).toBe(2)
}

async function finalValues(client: KvClient, keys: readonly string[]): Promise<Map<string, string>> {
  const finals = new Map<string, string>()
  for (const k of keys) {
    const v = await client.getString(k)
    if (v !== null) finals.set(k, v)
  }
  return finals
}

/** Waits until the events build exactly `finals` for `keys`; fails with what they built. */
async function expectCaughtUp(what: string, events: readonly KvWatchEvent[], finals: ReadonlyMap<string, string>, keys: readonly string[]): Promise<void> {
  const same = () => {
    const built = replay(events)
    return keys.every((k) => built.get(k) === finals.get(k))
  }
  try {
    await waitFor(`${what} to catch up`, () => Promise.resolve(same() ? true : undefined), 30_000, 100)
  } catch {
    const built = replay(events)
    for (const k of keys) {
      const got = built.get(k) ?? '', want = finals.get(k) ?? ''
      let at = 0
      while (at < got.length && got[at] === want[at]) at++
      const near = (v: string) => v.slice(Math.max(0, at - 20), at + 40)
      const revisions = events.filter((e) => e.key === k).map((e) => e.revision).join(' ')
      expect(got, `${what}: ${k} (${got.length} of ${want.length} chars; differs at ${at}: …${near(got)}… vs …${near(want)}…; revisions ${revisions})`).toBe(want)
    }
  }
}

describe.concurrent.each(['raft', 'paxos'] as const)('%s: watches on real nodes', (protocol) => {
  it('a key\'s watch sees every write once, in order, with concurrent writers, across a dropped connection and a SIGKILLed leader; compaction and the CLI', async (ctx) => {
    const basePort = protocol === 'raft' ? 22700 : 22720
    const cluster = await startCluster(ctx, { name: `watch-${protocol}`, basePort, protocol })
    const leader = await cluster.waitForLeader()
    const { config: proxied, proxies } = await proxiedConfig(cluster.config)
    const watcher = createClient({ config: proxied, timeoutMs: 10_000 })
    ctx.onTestFinished(async () => {
      await watcher.close()
      await Promise.all(proxies.map((p) => p.close()))
    })
    const { revision: start } = await watcher.getWithRevision('w')
    const watch = watcher.watch('w', { fromRevision: start, pollWaitMs: 500 })
    const seen = collect(watch)
    const writers = appenders(cluster, ['w', 'w', 'other'], 3)
    await sleep(1200)
    const cut = proxies.reduce((n, p) => n + p.dropAll(), 0)
    expect(cut).toBeGreaterThan(0) // the watcher's connections die mid-poll
    await sleep(1200)
    await cluster.kill(leader, 'SIGKILL')
    await sleep(1500)
    await cluster.restart(leader)
    await sleep(1000)
    await writers.stop()
    expect(writers.state.acked.length).toBeGreaterThan(20)
    const reader = cluster.client({ timeoutMs: 10_000 })
    const finals = await finalValues(reader, ['w'])
    expectAckedOnce(writers.state.acked.filter(([k]) => k === 'w'), finals)
    await expectCaughtUp('the watch of w', seen.events, finals, ['w'])
    expectRevisionsInOrder(seen.events)
    expect(seen.error()).toBeNull()
    watch.close()
    await seen.done

    // 11,000 events push the first ones out of the history (10,000 kept): the old revision is refused.
    const bulk = cluster.client({ timeoutMs: 20_000 })
    for (let b = 0; b < 11; b++) await bulk.batchPut(Array.from({ length: 1000 }, (_, i) => [`bulk/${String(b * 1000 + i).padStart(5, '0')}`, 'x'] as const))
    const late = collect(watcher.watch('w', { fromRevision: start }))
    await late.done
    expect(late.error()).toBeInstanceOf(CompactedError)
    expect(compareRevisions(parseRevision((late.error() as CompactedError).oldest)!, parseRevision(start)!)).toBeGreaterThan(0)
    const cli = await runKv(['--config', cluster.configPath, 'watch', 'w', '--from-revision', start])
    expect(cli.code, cli.stderr).toBe(6)
    expect(cli.stderr).toMatch(/^kv: COMPACTED: /m)

    // kv scan pages through the range in key order; kv watch --prefix prints each change.
    const scan = await runKv(['--config', cluster.configPath, 'scan', '--prefix', 'bulk/01', '--limit', '3', '--reverse'])
    expect(scan.stdout.trim().split('\n')).toEqual(['bulk/01999\tx', 'bulk/01998\tx', 'bulk/01997\tx'])
    const all = await runKv(['--config', cluster.configPath, '--json', 'scan', '--start', 'bulk/09990', '--end', 'bulk/10005'])
    expect(all.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { key: string }).key)).toEqual(Array.from({ length: 15 }, (_, i) => `bulk/${String(9990 + i).padStart(5, '0')}`))
    // With one group a revision is exact for a prefix too: the watch starts right after the read.
    const { revision: before } = await bulk.getWithRevision('cli/a')
    const follow = spawnKv(['--config', cluster.configPath, '--json', 'watch', '--prefix', 'cli/', '--from-revision', before, '--count', '3'])
    await bulk.put('cli/a', '1')
    await bulk.append('cli/a', '2')
    await bulk.put('other', 'not under the prefix')
    await bulk.delete('cli/a')
    const out = await follow.done
    expect(out.code, out.stderr).toBe(0)
    expect(out.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; key: string; value?: string })).toMatchObject([
      { type: 'put', key: 'cli/a', value: '1' },
      { type: 'append', key: 'cli/a', value: '2' },
      { type: 'delete', key: 'cli/a' },
    ])
  }, 120_000)

  it('a key\'s and a prefix\'s watches go on with no gap and no repeat while the keys move to an added group and off a removed one', async (ctx) => {
    const basePort = protocol === 'raft' ? 22740 : 22770
    const cluster = await startCluster(ctx, { name: `watch-moves-${protocol}`, basePort, protocol, groups: 1, spare: 1 })
    await cluster.waitForLeader({ group: 'ctl', timeoutMs: 30_000 })
    const admin = cluster.client({ timeoutMs: 30_000 })
    const map1 = initialShardMap(cluster.config)
    const map2: ShardMap = { ...map1, epoch: 2, groups: [...map1.groups, cluster.config.groups[1]!] }
    const keys = Array.from({ length: 8 }, (_, i) => `m/${i}`)
    const moving = keys.filter((k) => new ShardRouter(map2).groupOf(k).id === 'g2')
    expect(moving.length).toBeGreaterThan(0)
    const watcher = cluster.client({ timeoutMs: 10_000 })
    const { revision } = await watcher.getWithRevision(moving[0]!)
    const keyWatch = collect(watcher.watch(moving[0]!, { fromRevision: revision, pollWaitMs: 500 }))
    const prefix = watcher.watch({ prefix: 'm/' }, { pollWaitMs: 500 })
    const prefixWatch = collect(prefix)
    await waitFor('the prefix watch to know where it starts', () => Promise.resolve(prefix.cursor ?? undefined), 20_000, 50)
    const writers = appenders(cluster, keys, 3)
    await sleep(1000)
    expect(await admin.addShardGroup(cluster.config.groups[1]!)).toBe(2)
    await settled(cluster, 2)
    await sleep(500)
    expect(await admin.removeShardGroup('g1')).toBe(3)
    await settled(cluster, 3)
    await sleep(500)
    await writers.stop()
    const finals = await finalValues(cluster.client({ timeoutMs: 10_000 }), keys)
    expectAckedOnce(writers.state.acked, finals)
    expect([String(keyWatch.error()), String(prefixWatch.error())]).toEqual(['null', 'null'])
    await expectCaughtUp(`the watch of ${moving[0]}`, keyWatch.events, finals, [moving[0]!])
    await expectCaughtUp('the watch of m/', prefixWatch.events, finals, keys)
    expectRevisionsInOrder(keyWatch.events)
    expectRevisionsInOrder(prefixWatch.events)
    expect(keyWatch.events.some((e) => e.revision.startsWith('3.'))).toBe(true) // it followed the key to g2
    expect([keyWatch.error(), prefixWatch.error()]).toEqual([null, null])
  }, 150_000)
})

async function settled(cluster: ProcessCluster, epoch: number): Promise<void> {
  const probe = cluster.client({ timeoutMs: 1000 })
  const groups = cluster.config.groups.map((g) => g.id)
  await waitFor(`every shard group at epoch ${epoch} with no migration`, async () => {
    for (const g of groups) {
      const leader = await cluster.waitForLeader({ group: g, timeoutMs: 10_000 })
      const s = await cluster.status(leader, probe, 1000)
      if (s?.epoch !== epoch || (s.migrations?.length ?? 1) !== 0) return undefined
    }
    return true
  }, 60_000, 300)
}
