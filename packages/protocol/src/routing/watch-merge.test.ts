/**
 * The merge rule of prefix watches over scripted group streams: events of epoch E wait until
 * every stream reports progress at epoch ≥ E; groups that leave are followed until they end,
 * groups that join start after the old map's epoch; the cursor never splits a revision. Then a
 * property: any interleaving and chunking of honest group answers over random key moves hands
 * out every event once, each key's events in order.
 */
import fc from 'fast-check'
import { compareRevisions, type WireRevision } from '../revision.js'
import type { WatchEvent } from '../types.js'
import { describe, expect, it } from 'vitest'
import { parseCursor, WatchMerge } from './watch-merge.js'

const ev = (key: string, epoch: number, index: number): WatchEvent => ({ type: 'put', key, value: new Uint8Array([index & 255]), revision: [epoch, index] })
const names = (events: ReadonlyArray<{ key: string; revision: WireRevision; group?: string }>) => events.map((e) => `${e.key}@${e.revision.join('.')}`)

describe('WatchMerge', () => {
  it('holds events of epoch E until every group stream has reported progress at epoch ≥ E', () => {
    const m = new WatchMerge(2, [['A', [1, 0]], ['B', [1, 0]]])
    // k moved from A to B at epoch 2: B's event comes first over the network.
    m.onAnswer('B', { events: [ev('k', 2, 3)], progress: [2, 3] })
    expect(m.take()).toEqual([]) // A has reported nothing: it may still hold k's epoch-1 events
    m.onAnswer('A', { events: [ev('k', 1, 5), ev('j', 1, 6)], progress: [1, 9] })
    expect(names(m.take())).toEqual(['k@1.5', 'j@1.6']) // epoch 1 is safe; epoch 2 waits for A
    m.onAnswer('A', { events: [], progress: [2, 10] }) // A applied map 2: it froze k, nothing more of it
    expect(names(m.take())).toEqual(['k@2.3'])
  })

  it('caps delivery at the map it routes by and asks for the newer map when a group is past it', () => {
    const m = new WatchMerge(1, [['A', [1, 0]]])
    m.onAnswer('A', { events: [ev('k', 2, 4)], progress: [2, 4] })
    expect(m.needsMap()).toBe(true)
    expect(m.take()).toEqual([]) // a group joining at epoch 2 may hold events this one must not pass
    m.onMap(2, ['A', 'C'])
    expect(m.active()).toEqual([{ id: 'A', from: [2, 4], buffered: 1 }, { id: 'C', from: [2, 0], buffered: 0 }])
    // C joined at epoch 2: it starts at [2, 0], and its epoch-2 events are of other keys than A's.
    expect(names(m.take())).toEqual(['k@2.4'])
  })

  it('follows a group that left the map until its progress reaches the map without it, then ends it', () => {
    const m = new WatchMerge(1, [['A', [1, 0]], ['B', [1, 0]]])
    m.onMap(2, ['B'])
    expect(m.isActive('A')).toBe(true)
    m.onAnswer('A', { events: [ev('k', 1, 8)], progress: [1, 8] })
    m.onAnswer('B', { events: [ev('k', 2, 2)], progress: [2, 2] })
    expect(names(m.take())).toEqual(['k@1.8'])
    m.onAnswer('A', { events: [], progress: [2, 9] })
    expect(m.isActive('A')).toBe(false)
    expect(names(m.take())).toEqual(['k@2.2'])
    expect(m.bound()).toBe(2)
  })

  it('ends a group that says it has nothing more and is outside the map', () => {
    const m = new WatchMerge(3, [['A', [1, 0]]])
    m.onMap(4, ['B'])
    m.onAnswer('A', { events: [], progress: [3, 5], ended: true })
    expect(m.isActive('A')).toBe(false)
  })

  it('gives a cursor that never splits the events of one revision, and parses it back', () => {
    const m = new WatchMerge(1, [['A', [1, 0]], ['B', [1, 0]]])
    m.onAnswer('A', { events: [ev('a', 1, 3), ev('b', 1, 3), ev('c', 1, 4)], progress: [1, 6] })
    m.onAnswer('B', { events: [], progress: [1, 2] })
    expect(names([m.next()!])).toEqual(['a@1.3'])
    expect(m.cursor()).toBe('1@A=1.0,B=1.2') // b@1.3 is still to come: resume from 1.0
    m.next()
    expect(m.cursor()).toBe('1@A=1.3,B=1.2')
    m.next()
    expect(m.cursor()).toBe('1@A=1.6,B=1.2')
    expect(parseCursor(m.cursor())).toEqual({ mapEpoch: 1, groups: new Map([['A', [1, 6]], ['B', [1, 2]]]) })
    expect(parseCursor('nonsense')).toBeNull()
  })

  it('hands out every event once, each key in order, however the answers of random moves interleave', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 4 }), // groups
        fc.integer({ min: 1, max: 4 }), // epochs
        fc.integer({ min: 0, max: 2 ** 31 }), // the world's seed
        fc.array(fc.nat(), { minLength: 50, maxLength: 50 }), // the order answers arrive in
        (groups, epochs, seed, order) => {
          const world = randomWorld(groups, epochs, seed)
          const m = new WatchMerge(epochs, world.groups.map((g) => [g, [1, 0]] as const))
          const out: WatchEvent[] = []
          const pending = world.groups.map((g) => chunks(world.byGroup.get(g)!, world.finalIndex.get(g)!, epochs, seed))
          let step = 0
          while (pending.some((p) => p.length > 0)) {
            const live = pending.map((p, i) => (p.length > 0 ? i : -1)).filter((i) => i >= 0)
            const i = live[(order[step++ % order.length] ?? 0) % live.length]!
            m.onAnswer(world.groups[i]!, pending[i]!.shift()!)
            out.push(...m.take())
          }
          expect(out).toHaveLength(world.total)
          const seen = new Set<string>()
          const lastOf = new Map<string, WireRevision>()
          for (const e of out) {
            const id = `${e.key}@${e.revision.join('.')}#${e.value![0]}`
            expect(seen.has(id)).toBe(false)
            seen.add(id)
            const last = lastOf.get(e.key)
            if (last !== undefined) expect(compareRevisions(last, e.revision)).toBeLessThanOrEqual(0)
            lastOf.set(e.key, e.revision)
          }
        },
      ),
      { numRuns: 100 },
    )
  })
})

/**
 * Keys moving between groups epoch by epoch: at each epoch every key has one owner, which gives it
 * events at its own log indexes (every group's indexes grow across epochs).
 */
function randomWorld(groupCount: number, epochs: number, seed: number) {
  let s = seed || 1
  const rand = (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    return s % n
  }
  const groups = Array.from({ length: groupCount }, (_, i) => `g${i + 1}`)
  const keys = ['a', 'b', 'c', 'd', 'e']
  const byGroup = new Map(groups.map((g) => [g, [] as WatchEvent[]]))
  const index = new Map(groups.map((g) => [g, 0]))
  let total = 0
  for (let epoch = 1; epoch <= epochs; epoch++) {
    for (const g of groups) index.set(g, index.get(g)! + 1) // the config entry
    const owner = new Map(keys.map((k) => [k, groups[rand(groupCount)]!]))
    for (let n = rand(12); n > 0; n--) {
      const key = keys[rand(keys.length)]!
      const g = owner.get(key)!
      const i = index.get(g)! + 1
      index.set(g, i)
      byGroup.get(g)!.push({ type: 'put', key, value: new Uint8Array([total & 255]), revision: [epoch, i] })
      total++
    }
  }
  return { groups, byGroup, total, finalIndex: index }
}

/** A group's events cut into honest answers: each one's progress covers everything sent so far. */
function chunks(events: readonly WatchEvent[], finalIndex: number, epochs: number, seed: number) {
  const answers: Array<{ events: WatchEvent[]; progress: WireRevision }> = []
  let i = 0
  let k = seed
  while (i < events.length) {
    k = (k * 7 + 3) % 5
    const n = 1 + k
    const part = events.slice(i, i + n)
    i += n
    answers.push({ events: part, progress: part[part.length - 1]!.revision })
  }
  answers.push({ events: [], progress: [epochs, finalIndex] })
  return answers
}
