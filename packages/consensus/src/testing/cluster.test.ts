import { describe, expect, it } from 'vitest'
import { CoreCluster, type ClusterOptions } from './cluster.js'
import { createFixedLeader } from './fakes/fixed-leader-core.js'
import { normal, scripted, type ScriptedCore } from './fakes/scripted-core.js'
import { commitOn, payload } from './scenario-steps.js'

function cluster(extra: Partial<ClusterOptions> = {}): CoreCluster {
  return new CoreCluster({ factory: createFixedLeader, seed: 5, ...extra })
}

function fingerprint(c: CoreCluster): string {
  return JSON.stringify({ stats: c.stats(), applied: c.ids.map((id) => c.appliedLog(id).map((e) => e.index)) })
}

describe('CoreCluster', () => {
  it('names members n1..nN and finds the leader', () => {
    const c = cluster({ size: 5 })
    expect(c.ids).toEqual(['n1', 'n2', 'n3', 'n4', 'n5'])
    expect(c.leader()).toBe('n1')
  })

  it('replicates proposals to every node through the Ready duties', () => {
    const c = cluster()
    for (let i = 0; i < 10; i++) commitOn(c, payload(c, `p${i}`), 100)
    for (const id of c.ids) expect(c.appliedLog(id).length).toBe(10)
    expect(c.disk('n2').indexes()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  })

  it('replays exactly from the same seed, and differs for another', () => {
    const runWith = (seed: number): string => {
      const c = cluster({ seed, network: { dropRate: 0.2, duplicateRate: 0.2, maxDelayTicks: 4 }, readyDeferRate: 0.3 })
      for (let i = 0; i < 20; i++) {
        c.propose('n1', payload(c, `p${i}`))
        c.tick(1 + c.random.int(3))
      }
      c.tick(50)
      return fingerprint(c)
    }
    expect(runWith(1)).toBe(runWith(1))
    expect(runWith(1)).not.toBe(runWith(2))
  })

  it('stops a partitioned minority from committing until the partition heals', () => {
    const c = cluster({ size: 3 })
    c.partition([['n1'], ['n2', 'n3']])
    c.propose('n1', payload(c, 'stuck'))
    c.tick(30)
    expect(c.appliedAt('n1', payload(c, 'stuck'))).toBeNull()
    c.heal()
    c.tick(10)
    for (const id of c.ids) expect(c.appliedAt(id, payload(c, 'stuck'))).not.toBeNull()
  })

  it('restarts a crashed follower from its disk only', () => {
    const c = cluster({ readyDeferRate: 0.5 })
    for (let i = 0; i < 5; i++) commitOn(c, payload(c, `a${i}`), 100)
    c.crash('n3')
    expect(c.isAlive('n3')).toBe(false)
    expect(c.status('n3')).toBeNull()
    expect(c.appliedLog('n3')).toEqual([])
    for (let i = 0; i < 5; i++) commitOn(c, payload(c, `b${i}`), 100)
    c.restart('n3')
    expect(c.status('n3')?.lastIndex).toBe(c.disk('n3').indexes().at(-1))
    c.awaitCondition((x) => x.appliedIndex('n3') === 10, 100, 'n3 catching up')
  })

  it('compacts every K applied entries and catches a lagging node up by snapshot', () => {
    const c = cluster({ compactEvery: 5 })
    c.crash('n3')
    for (let i = 0; i < 12; i++) commitOn(c, payload(c, `s${i}`), 100, ['n1', 'n2'])
    expect(c.disk('n1').snapshotIndex).toBe(10)
    expect(c.status('n1')?.firstIndex).toBe(11)
    c.restart('n3')
    c.awaitCondition((x) => x.appliedIndex('n3') === 12, 100, 'n3 catching up')
    expect(c.snapshotsInstalled('n3')).toBe(1)
    expect(c.appliedLog('n3').map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
  })

  it('a restarted node rebuilds its state machine from its durable snapshot', () => {
    const c = cluster({ compactEvery: 4 })
    for (let i = 0; i < 6; i++) commitOn(c, payload(c, `r${i}`), 100)
    c.crash('n2')
    c.restart('n2')
    expect(c.appliedIndex('n2')).toBe(4)
    c.tick(5)
    expect(c.appliedIndex('n2')).toBe(6)
  })

  it('fails with a liveness error naming the seed when a condition never holds', () => {
    const c = cluster({ seed: 99, label: 'demo', replay: 'do it again' })
    expect(() => c.awaitCondition(() => false, 20, 'the impossible')).toThrow(
      /\[liveness\] the impossible did not happen within 20 ticks[\s\S]*seed: 99 {2}tick: 20[\s\S]*replay: do it again/,
    )
  })

  it('rejects misuse loudly', () => {
    const c = cluster()
    expect(() => c.crash('n9')).toThrow(/no member n9/)
    expect(() => c.restart('n1')).toThrow(/is up/)
    c.crash('n2')
    expect(() => c.propose('n2', new Uint8Array())).toThrow(/down/)
  })

  it('hands out Readys while earlier writes wait, up to maxReadysInFlight, and a crash loses every unsynced write', () => {
    const factory = scripted((core, tick) => {
      if (core.id === 'n1') core.emit({ entries: [normal(tick, 1, `e${tick}`)] })
    })
    const c = new CoreCluster({ factory, seed: 3, maxReadysInFlight: 3 })
    c.setDiskStalled('n1', true)
    c.tick(5)
    expect(c.readysInFlight('n1')).toEqual({ handedOut: 3, synced: 0 }) // the bound holds the rest back
    c.crash('n1')
    expect(c.disk('n1').indexes()).toEqual([])
    c.setDiskStalled('n1', false)
    c.restart('n1')
    c.tick(2)
    expect(c.disk('n1').indexes().length).toBeGreaterThan(0)
  })

  it('makes writes durable in hand-out order: whenever a node crashes, its disk holds a prefix of them', () => {
    let lostSome = 0
    for (let seed = 1; seed <= 20; seed++) {
      let written = 0
      const factory = scripted((core) => {
        if (core.id === 'n1') core.emit({ entries: [normal(++written, 1, `e${written}`)] })
      })
      const c = new CoreCluster({ factory, seed, readyDeferRate: 0.6, maxReadysInFlight: 4 })
      c.tick(10 + c.random.int(20))
      c.crash('n1')
      const kept = c.disk('n1').indexes()
      expect(kept, `seed ${seed}`).toEqual(Array.from({ length: kept.length }, (_, i) => i + 1))
      expect(kept.length, `seed ${seed}`).toBeLessThanOrEqual(written)
      if (kept.length < written) lostSome++
    }
    expect(lostSome).toBeGreaterThan(5) // most crashes fall with writes in flight
  })

  it('can crash a node after its Ready is durable but before what depends on that is sent', () => {
    const cores: ScriptedCore[] = []
    const factory = scripted((core, tick) => {
      if (tick === 1 && core.id === 'n1') {
        core.emit({
          entries: [normal(1, 1, 'x')],
          messagesNow: [{ type: 'append', from: 'n1', to: 'n2', term: 1 }],
          messagesAfterPersist: [{ type: 'vote', from: 'n1', to: 'n2', term: 1 }],
        })
      }
    }, cores)
    // Seed 1 with a high defer rate: fetch + send now in tick 1, persist in tick 2, the rest later.
    const c = new CoreCluster({ factory, seed: 1, readyDeferRate: 0.9 })
    const n2 = cores.find((x) => x.id === 'n2')!
    c.runUntil((x) => x.disk('n1').entryAt(1) !== undefined, 20)
    expect(c.disk('n1').entryAt(1)).toBeDefined()
    c.crash('n1')
    c.tick(10)
    expect(n2.received).toEqual(['append'])
    c.restart('n1')
    expect(c.disk('n1').load().entries.map((e) => e.index)).toEqual([1])
  })
})
