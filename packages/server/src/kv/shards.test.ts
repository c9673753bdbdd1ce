import type { GroupSpec, ShardMap } from '@kv/protocol'
import { describe, expect, it } from 'vitest'
import type { MigrationStep } from '../log-record.js'
import { ShardState, type ShardDataHooks } from './shards.js'

const group = (id: string): GroupSpec => ({ id, protocol: 'raft', replicas: [{ id: `${id}-r1`, host: 'h', port: id.length }] })
const map = (epoch: number, ...ids: string[]): ShardMap => ({ epoch, vnodesPerGroup: 16, groups: ids.map(group) })

function hooks() {
  const data = new Map<string, Uint8Array>()
  const merged: unknown[] = []
  const h: ShardDataHooks = {
    put: (k, v) => void data.set(k, v),
    deleteIn: (arcs) => {
      let n = 0
      for (const k of [...data.keys()]) {
        if (!ShardState.inArcs(arcs, k)) continue
        data.delete(k)
        n++
      }
      return n
    },
    mergeSessions: (s) => void merged.push(...s),
  }
  return { h, data, merged }
}

const keys = Array.from({ length: 200 }, (_, i) => `key${i}`)

describe('ShardState', () => {
  it('applies maps in epoch order only, one at a time, and serves nothing before the first', () => {
    const s = new ShardState('g1')
    const { h } = hooks()
    expect(keys.some((k) => s.serves(k))).toBe(false)
    expect(s.apply({ type: 'config', map: map(2, 'g1') }, h)).toBeNull()
    expect(s.apply({ type: 'config', map: map(1, 'g1') }, h)).toMatchObject({ step: 'config', epoch: 1 })
    expect(keys.every((k) => s.serves(k))).toBe(true)
    expect(s.apply({ type: 'config', map: map(1, 'g1') }, h)).toBeNull()
    // g2 joins: g1 loses arcs to it; the next map waits until that move is over.
    expect(s.apply({ type: 'config', map: map(2, 'g1', 'g2') }, h)).not.toBeNull()
    expect(s.outgoing.map((m) => [m.to, m.state])).toEqual([['g2', 'frozen']])
    expect(s.apply({ type: 'config', map: map(3, 'g1') }, h)).toBeNull()
    const lost = keys.filter((k) => !s.serves(k))
    expect(lost.length).toBeGreaterThan(20)
    expect(lost.length).toBeLessThan(180)
  })

  it('walks a gained move through its steps; every step applied twice, early or at another epoch changes nothing', () => {
    const s = ShardState.fixed('g2', map(1, 'g1'))
    const { h, data, merged } = hooks()
    s.apply({ type: 'config', map: map(2, 'g1', 'g2') }, h)
    const gained = keys.filter((k) => ShardState.inArcs(s.incoming[0]!.arcs, k))
    expect(gained.length).toBeGreaterThan(0)
    expect(gained.some((k) => s.serves(k))).toBe(false) // waiting for the data
    const step = (st: MigrationStep) => s.apply(st, h)
    const install = (cursor: number, next: number, done: boolean): MigrationStep => ({
      type: 'install', epoch: 2, from: 'g1', cursor, next, done, entries: [[gained[cursor]!, new Uint8Array([cursor])]], sessions: done ? [['c', 0, 1, []]] : [],
    })
    expect(step(install(0, 1, false))).toBeNull() // not pulling yet
    expect(step({ type: 'shard-ready', epoch: 2, from: 'g1' })).toBeNull() // nothing installed
    expect(step({ type: 'send-keys-request', epoch: 1, from: 'g1' })).toBeNull() // another epoch
    expect(step({ type: 'send-keys-request', epoch: 2, from: 'g1' })).not.toBeNull()
    expect(step({ type: 'send-keys-request', epoch: 2, from: 'g1' })).toBeNull()
    expect(step(install(0, 1, false))).toMatchObject({ keys: 1 })
    expect(step(install(0, 1, false))).toBeNull() // a repeated chunk
    expect(step(install(2, 3, false))).toBeNull() // a chunk out of order
    expect(step(install(1, 2, true))).toMatchObject({ keys: 1 })
    expect([...data.keys()]).toEqual([gained[0], gained[1]])
    expect(merged).toHaveLength(1)
    expect(gained.some((k) => s.serves(k))).toBe(false)
    expect(step({ type: 'shard-ready', epoch: 2, from: 'g1' })).not.toBeNull()
    expect(gained.every((k) => s.serves(k))).toBe(true)
    expect(s.settled).toBe(false)
    expect(step({ type: 'learned-acked', epoch: 2, from: 'g1' })).not.toBeNull()
    expect(step({ type: 'learned-acked', epoch: 2, from: 'g1' })).toBeNull()
    expect(s.settled).toBe(true)
  })

  it('deletes a lost move’s keys at keys-learned, once, and comes back the same from its image', () => {
    const s = ShardState.fixed('g1', map(1, 'g1'))
    const { h, data } = hooks()
    for (const k of keys) data.set(k, new Uint8Array([1]))
    s.apply({ type: 'config', map: map(2, 'g1', 'g2') }, h)
    const copy = new ShardState('g1')
    copy.load(structuredClone(s.image()))
    expect(keys.map((k) => copy.serves(k))).toEqual(keys.map((k) => s.serves(k)))
    expect(s.apply({ type: 'keys-learned', epoch: 3, to: 'g2' }, h)).toBeNull()
    const event = s.apply({ type: 'keys-learned', epoch: 2, to: 'g2' }, h)
    expect(event?.keys).toBe(keys.filter((k) => !s.serves(k)).length)
    expect([...data.keys()].every((k) => s.serves(k))).toBe(true)
    expect(s.apply({ type: 'keys-learned', epoch: 2, to: 'g2' }, h)).toBeNull()
    expect(s.settled).toBe(true)
  })
})
