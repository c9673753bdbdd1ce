import { createRng } from '@kv/consensus'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { reconnectGraceMs, retransmitSlackMs } from './limits.js'
import { boundProblem, planFault, rejoinGraceMs, type ClusterView, type FaultPlan, type Link } from './plan.js'
import { drawSchedule, faultKinds, type FaultIntent, type FaultKind } from './schedule.js'

const g1 = ['g1-r1', 'g1-r2', 'g1-r3', 'g1-r4', 'g1-r5']
const ctl = ['ctl-r1', 'ctl-r2', 'ctl-r3']

function view(over: Partial<ClusterView> = {}): ClusterView {
  return {
    groups: new Map([['ctl', ctl], ['g1', g1]]),
    f: new Map([['ctl', 1], ['g1', 2]]),
    leaders: new Map([['g1', 'g1-r2'], ['ctl', 'ctl-r1']]),
    claimed: new Set(),
    activeFaults: 0,
    maxActiveFaults: 3,
    ...over,
  }
}

function intent(kind: FaultKind, over: Partial<FaultIntent> = {}): FaultIntent {
  return { atMs: 0, kind, durationMs: 1000, group: 'g1', atLeader: true, pick: 0, dropRate: 0.1, ...over }
}

function planned(i: FaultIntent, v: ClusterView = view()): FaultPlan {
  const r = planFault(i, v)
  if ('skip' in r) throw new Error(`skipped: ${r.skip}`)
  return r.plan
}

describe('planFault', () => {
  it.each(['kill', 'pause', 'restart', 'drops'] as const)('%s aims at the leader when asked and it is free', (kind) => {
    expect(planned(intent(kind))).toMatchObject({ target: 'g1-r2', targetIsLeader: true, claims: ['g1-r2'], links: [] })
  })

  it('picks a free replica when the leader is claimed or not aimed at', () => {
    expect(planned(intent('kill'), view({ claimed: new Set(['g1-r2']) }))).toMatchObject({ target: 'g1-r1', targetIsLeader: false })
    expect(planned(intent('kill', { atLeader: false, pick: 0.99 }))).toMatchObject({ target: 'g1-r5', claims: ['g1-r5'] })
  })

  it('skips a fault in a group with f replicas impaired, and past the most faults at once', () => {
    expect(planFault(intent('pause'), view({ claimed: new Set(['g1-r1', 'g1-r3']) }))).toEqual({ skip: 'g1 has 2 replicas impaired already' })
    expect(planFault(intent('pause', { group: 'ctl' }), view({ claimed: new Set(['ctl-r3']) }))).toEqual({ skip: 'ctl has 1 replica impaired already' })
    expect(planFault(intent('pause'), view({ activeFaults: 3 }))).toEqual({ skip: '3 faults under way already' })
  })

  it('isolate cuts the leader from every other replica of the cluster, whatever atLeader says', () => {
    const p = planned(intent('isolate', { atLeader: false }))
    expect(p).toMatchObject({ target: 'g1-r2', targetIsLeader: true, claims: ['g1-r2'] })
    expect(p.links.map(([, b]) => b).sort()).toEqual([...ctl, ...g1.filter((id) => id !== 'g1-r2')].sort())
    expect(p.links.every(([a]) => a === 'g1-r2')).toBe(true)
  })

  it('halves puts f free replicas (the leader first when aimed at) on the smaller side, cut from the rest of the group only', () => {
    const p = planned(intent('halves'))
    expect(p.claims).toHaveLength(2)
    expect(p.claims).toContain('g1-r2')
    expect(p.sides![1]).toHaveLength(3)
    expect(p.links).toHaveLength(6)
    expect(p.links.every(([a, b]) => p.claims.includes(a) && g1.includes(b) && !p.claims.includes(b))).toBe(true)
    // With one replica impaired already, the smaller side is one replica.
    expect(planned(intent('halves', { atLeader: false }), view({ claimed: new Set(['g1-r5']) })).claims).toHaveLength(1)
  })

  it('link claims a free follower and cuts it from the leader when aimed at', () => {
    const p = planned(intent('link', { pick: 0.5 }))
    expect(p.claims).toHaveLength(1)
    expect(p.claims[0]).not.toBe('g1-r2')
    expect(p.links).toEqual([[p.claims[0], 'g1-r2']])
    expect(p.targetIsLeader).toBe(true)
  })

  it('link with no free follower is skipped', () => {
    const twoLeft = view({ groups: new Map([['g1', ['a', 'b', 'c']]]), f: new Map([['g1', 1]]), leaders: new Map([['g1', 'a']]), claimed: new Set() })
    expect('plan' in planFault(intent('link'), twoLeft)).toBe(true)
    const onlyLeaderFree = view({ groups: new Map([['g1', ['a', 'b', 'c']]]), f: new Map([['g1', 2]]), leaders: new Map([['g1', 'a']]), claimed: new Set(['b', 'c']) })
    expect(planFault(intent('link'), onlyLeaderFree)).toEqual({ skip: 'g1 has 2 replicas impaired already' })
  })

  it('never lets faults under way impair more than f replicas of a group or cut a link between two unimpaired ones', () => {
    // Random schedules played with random leaders; each fault holds its claims and cuts until it ends.
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom(1, 2), fc.integer({ min: 1, max: 4 }), (seed, f, maxActiveFaults) => {
      const rng = createRng(seed)
      const replicas = (g: string) => Array.from({ length: 2 * f + 1 }, (_, i) => `${g}-r${i + 1}`)
      const groups = new Map(['ctl', 'g1', 'g2'].map((g) => [g, replicas(g)] as const))
      const fs = new Map([...groups.keys()].map((g) => [g, f] as const))
      const schedule = drawSchedule(rng.fork(), { phaseMs: 120_000, groups: [...groups.keys()] })
      let active: Array<{ endMs: number; plan: FaultPlan }> = []
      for (const i of schedule) {
        active = active.filter((a) => a.endMs > i.atMs)
        const claimed = new Set(active.flatMap((a) => a.plan.claims))
        const leaders = new Map([...groups].map(([g, ids]) => [g, rng.chance(0.2) ? null : ids[rng.int(ids.length)]!] as const))
        const r = planFault(i, { groups, f: fs, leaders, claimed, activeFaults: active.length, maxActiveFaults })
        if ('skip' in r) continue
        expect(r.plan.claims.some((id) => claimed.has(id))).toBe(false)
        active.push({ endMs: i.atMs + i.durationMs + rejoinGraceMs(i), plan: r.plan })
        const cut: Link[] = active.flatMap((a) => a.plan.links)
        expect(boundProblem(groups, fs, new Set(active.flatMap((a) => a.plan.claims)), cut)).toBeNull()
        expect(active.length).toBeLessThanOrEqual(maxActiveFaults)
      }
    }), { numRuns: 300 })
  })

  it('every fault kind can be planned', () => {
    for (const kind of faultKinds) expect('plan' in planFault(intent(kind), view())).toBe(true)
  })
})

describe('boundProblem', () => {
  const groups = new Map([['g1', ['a', 'b', 'c']]])
  const f = new Map([['g1', 1]])

  it('accepts f impaired replicas and links cut with an impaired end', () => {
    expect(boundProblem(groups, f, new Set(['a']), [['a', 'b'], ['c', 'a']])).toBeNull()
  })

  it('names more than f impaired, and a cut link between two unimpaired replicas', () => {
    expect(boundProblem(groups, f, new Set(['a', 'b']), [])).toBe('g1 has 2 replicas impaired, more than f=1')
    expect(boundProblem(groups, f, new Set(['a']), [['b', 'c']])).toBe('the cut link b|c joins two unimpaired replicas')
  })
})

describe('rejoinGraceMs', () => {
  it('holds a healed partition as long again as it lasted (TCP backoff), a restart for the redial backoff, a pause not at all', () => {
    for (const kind of ['isolate', 'halves', 'link'] as const) expect(rejoinGraceMs(intent(kind, { durationMs: 4000 }))).toBe(4000 + retransmitSlackMs)
    for (const kind of ['kill', 'restart', 'drops'] as const) expect(rejoinGraceMs(intent(kind, { durationMs: 4000 }))).toBe(reconnectGraceMs)
    expect(rejoinGraceMs(intent('pause'))).toBe(0)
  })
})
