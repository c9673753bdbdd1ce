/**
 * Watches in the simulator: watchers that decide like `@kv/client`'s (a key's long polls moving
 * on after WRONG_SHARD; a prefix's streams merged by `WatchMerge`) run beside the clients under
 * crashes, partitions, a lossy network that duplicates and delays, snapshots, and shard maps
 * changed live. After the run, the value each key's events build (in the order handed out) must
 * be exactly the value the replicas hold: no event missed, none twice, each key's in order.
 */
import { compareRevisions, layoutCluster, parseClusterSpec, type WatchEvent, type WireRevision } from '@kv/protocol'
import { describe, expect, it } from 'vitest'
import { noFaults } from './nemesis.js'
import { protocols, type Protocol } from './protocols.js'
import { SimWorld } from './world.js'
import type { SimWatcher } from './watcher.js'

const decoder = new TextDecoder()

function replay(events: readonly WatchEvent[]): Map<string, string> {
  const values = new Map<string, string>()
  for (const e of events) {
    if (e.type === 'delete') values.delete(e.key)
    else if (e.type === 'put') values.set(e.key, decoder.decode(e.value))
    else values.set(e.key, (values.get(e.key) ?? '') + decoder.decode(e.value))
  }
  return values
}

/** Quiesces, converges, then waits for the watchers to catch up and checks each against the final state. */
function expectWatchersExact(w: SimWorld, watchers: readonly SimWatcher[]): void {
  expect(w.quiesce(), 'clients finished').toBe(true)
  expect(w.converge(20_000), 'groups converged').toBe(true)
  const finals = new Map([...w.finalState()].map(([k, v]) => [k, decoder.decode(v)]))
  const wanted = (watcher: SimWatcher) => {
    const t = watcher.target
    return new Map([...finals].filter(([k]) => ('key' in t ? k === t.key : k.startsWith(t.prefix))))
  }
  const caughtUp = (watcher: SimWatcher) => {
    const built = replay(watcher.events)
    const want = wanted(watcher)
    return built.size === want.size && [...want].every(([k, v]) => built.get(k) === v)
  }
  w.runUntil(() => watchers.every(caughtUp), 30_000)
  for (const watcher of watchers) {
    expect(watcher.problems.join("; "), `${watcher.name} ${JSON.stringify(watcher.target)}: ${watcher.events.map((e) => `${e.type} ${e.revision.join(".")}`).join(", ")}`).toBe("")
    expect(Object.fromEntries(replay(watcher.events)), `${watcher.name} ${JSON.stringify(watcher.target)}`).toEqual(Object.fromEntries(wanted(watcher)))
    const last = new Map<string, WireRevision>()
    for (const e of watcher.events) {
      const before = last.get(e.key)
      if (before !== undefined) expect(compareRevisions(before, e.revision), `${e.key} at ${e.revision.join('.')} after ${before.join('.')}`).toBeLessThanOrEqual(0)
      last.set(e.key, e.revision)
    }
  }
}

describe.each(Object.keys(protocols) as Protocol[])('%s protocol, watches', (protocol) => {
  it('a key\'s and a prefix\'s watches see every change once, in order, under crashes, partitions and a lossy network', () => {
    const w = new SimWorld({ seed: 301, protocol, nemesis: { ...noFaults, crashes: true, partitions: true, flakyNetwork: true, intervalMs: 300 } })
    const watchers = [w.addWatcher({ key: 'k1' }), w.addWatcher({ prefix: 'k' })]
    w.addClients(4, { kind: 'mixed', keys: 6, opsPerClient: null })
    w.nemesis.start()
    w.runFor(4000)
    expectWatchersExact(w, watchers)
    expect(watchers[1]!.events.length).toBeGreaterThan(50)
  })

  it.each([302, 303])('they go on with no gap and no repeat while the map changes under faults: add, remove, re-add (seed %i)', (seed) => {
    const base = layoutCluster({ clusterId: 'sim', token: 'sim', f: 1, groups: 3, protocol, basePort: 1, host: 'sim', controller: true })
    const spec = parseClusterSpec({ ...base, initialGroups: ['g1', 'g2'] })
    const w = new SimWorld({ seed, protocol, spec, nemesis: { ...noFaults, crashes: true, flakyNetwork: true, intervalMs: 400 } })
    w.addClients(4, { kind: 'mixed', keys: 12, opsPerClient: null })
    w.runFor(300)
    // A watcher per key: some keys move to the new group, whose log indexes are far below the losers'.
    const watchers = [...Array.from({ length: 12 }, (_, i) => w.addWatcher({ key: `k${i}` })), w.addWatcher({ prefix: 'k' })]
    w.nemesis.start()
    w.runFor(700)
    w.admin.change({ op: 'addGroup', group: w.spec.groups[2]! })
    w.runFor(1500)
    w.admin.change({ op: 'removeGroup', groupId: 'g1' })
    w.runFor(1500)
    w.admin.change({ op: 'addGroup', group: w.spec.groups[0]! })
    w.runFor(1500)
    expectWatchersExact(w, watchers)
    expect(w.controllerEpoch()).toBe(4)
    expect(watchers.filter((x) => x.events.length > 0).length).toBeGreaterThan(10)
  })
})
