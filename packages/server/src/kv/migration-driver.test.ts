import type { GroupSpec, ShardMap } from '@kv/protocol'
import { describe, expect, it } from 'vitest'
import type { GroupMessage, MachineContext, OutgoingGroupMessage } from '../group-message.js'
import type { EncodedSession } from '../session.js'
import { defaultMigrationLimits, MigrationDriver, SESSION_BUCKETS, sessionBucket, sessionBytes, type MigrationData } from './migration-driver.js'
import type { SendKeysResponse } from './migration-messages.js'
import { ShardState, type OutgoingMove, type ShardDataHooks } from './shards.js'

const group = (id: string): GroupSpec => ({ id, protocol: 'raft', replicas: [{ id: `${id}-r1`, host: 'h', port: id.length }] })
const map = (epoch: number, ...ids: string[]): ShardMap => ({ epoch, vnodesPerGroup: 16, groups: ids.map(group) })
type Session = readonly [string, ...EncodedSession]
const session = (id: string, value = 8): Session => [id, 0, 1, [[2, { type: 'value', value: new Uint8Array(value) }]]]

/** g1, the loser of a move to g2 at epoch 2, its keys frozen and the gainer's request logged. */
function loser(keyCount: number) {
  const shards = ShardState.fixed('g1', map(1, 'g1'))
  const values = new Map<string, Uint8Array>()
  for (let i = 0; i < keyCount; i++) values.set(`key${i}`, new Uint8Array(100))
  const hooks: ShardDataHooks = { put: () => {}, deleteIn: () => 0, mergeSessions: () => {} }
  shards.apply({ type: 'config', map: map(2, 'g1', 'g2') }, hooks)
  shards.apply({ type: 'send-keys-response', epoch: 2, to: 'g2' }, hooks)
  const state = { sessions: [] as Session[] }
  const data: MigrationData = {
    shards,
    keysOf: (move: OutgoingMove) => [...values.keys()].filter((k) => ShardState.inArcs(move.arcs, k)).sort(),
    value: (k) => values.get(k) ?? null,
    sessions: () => state.sessions,
    floorOf: () => [0, 0],
    absentFloors: () => ({ keys: [], buckets: [] }),
  }
  const limits = { ...defaultMigrationLimits, maxChunkKeys: 50, maxChunkBytes: 2000 }
  const driver = new MigrationDriver(data, null, limits)
  const moved = data.keysOf(shards.outgoing[0]!)
  return { driver, state, limits, moved }
}

/** Pulls the stream chunk by chunk, as the gainer does; `between` runs before each request. */
function pull(l: ReturnType<typeof loser>, between: (n: number) => void = () => {}): SendKeysResponse[] {
  const chunks: SendKeysResponse[] = []
  let cursor = 0
  for (let n = 0; n < 10_000; n++) {
    between(n)
    const sent: OutgoingGroupMessage[] = []
    const ctx: MachineContext = { replicaId: 'g1-r1', groupId: 'g1', isLeader: true, term: 1, nowMs: 0, send: (m) => void sent.push(m), propose: () => true }
    const request: GroupMessage = { type: 'SendKeysRequest', from: 'g2-r1', to: 'g1-r1', term: 0, fromGroup: 'g2', toGroup: 'g1', epoch: 2, cursor } as GroupMessage
    l.driver.onMessage(request, ctx)
    const chunk = sent[0] as unknown as SendKeysResponse
    expect(chunk.cursor).toBe(cursor)
    chunks.push(chunk)
    if (chunk.done) return chunks
    expect(chunk.next).toBeGreaterThan(cursor)
    cursor = chunk.next
  }
  throw new Error('the stream never ended')
}

describe('MigrationDriver: the stream of a move', () => {
  it('sends every moved key once, then the sessions in bounded chunks of whole buckets', () => {
    const l = loser(400)
    l.state.sessions = Array.from({ length: 300 }, (_, i) => session(`client-${i}`))
    const chunks = pull(l)
    expect(chunks.flatMap((c) => c.entries.map(([k]) => k))).toEqual(l.moved)
    const sent = chunks.flatMap((c) => c.sessions.map(([id]) => id))
    expect([...sent].sort()).toEqual(l.state.sessions.map(([id]) => id).sort())
    expect(new Set(sent).size).toBe(sent.length)
    // Bounded: keys per chunk, and the sessions of a chunk within the byte bound; so the 300
    // sessions take several chunks instead of riding in the last one.
    for (const c of chunks) expect(c.entries.length).toBeLessThanOrEqual(l.limits.maxChunkKeys)
    const sessionChunks = chunks.filter((c) => c.sessions.length > 0)
    expect(sessionChunks.length).toBeGreaterThan(3)
    for (const c of sessionChunks) {
      const bytes = c.sessions.reduce((n, x) => n + sessionBytes(x), 0)
      const buckets = new Set(c.sessions.map(([id]) => sessionBucket(id))).size
      if (buckets > 1) expect(bytes).toBeLessThanOrEqual(l.limits.maxChunkBytes) // one bucket may exceed it alone
    }
    expect(chunks.at(-1)!.next).toBe(l.moved.length + SESSION_BUCKETS)
  })

  it('skips no session when the next chunk comes from a replica holding other sessions', () => {
    const l = loser(20)
    const existing = Array.from({ length: 200 }, (_, i) => session(`c${i}`))
    l.state.sessions = existing
    // Between chunks, leadership moves between replicas at different applied indexes: some
    // sessions appear (created after the freeze), some expired ones are gone.
    const chunks = pull(l, (n) => {
      if (n % 2 === 1) l.state.sessions = [session(`late-${n}`), ...existing.filter((_, i) => i % 7 !== n % 7 || i % 2 === 0)]
      else l.state.sessions = existing
    })
    const sent = new Set(chunks.flatMap((c) => c.sessions.map(([id]) => id)))
    // Every session present on every replica throughout got through.
    const everywhere = existing.filter((_, i) => i % 2 === 0).map(([id]) => id)
    expect(everywhere.filter((id) => !sent.has(id))).toEqual([])
  })

  it('puts a session in the same bucket on every replica', () => {
    expect(sessionBucket('client-7')).toBe(sessionBucket('client-7'))
    const buckets = new Set(Array.from({ length: 2000 }, (_, i) => sessionBucket(`c${i}`)))
    expect(buckets.size).toBeGreaterThan(SESSION_BUCKETS * 0.9)
  })
})

describe('MigrationDriver: proposing steps', () => {
  it('proposes a step again when the core refused it (a Raft leader handing over), and once only when it took it', () => {
    const l = loser(5)
    const proposed: unknown[] = []
    let takes = false
    const ctx: MachineContext = {
      replicaId: 'g1-r1', groupId: 'g1', isLeader: true, term: 3, nowMs: 0, send: () => {},
      propose: (record) => {
        proposed.push(record)
        return takes
      },
    }
    const learned = { type: 'KeysLearned', from: 'g2-r1', to: 'g1-r1', term: 0, fromGroup: 'g2', toGroup: 'g1', epoch: 2 } as GroupMessage
    const step = { kind: 'migration', v: 1, step: { type: 'keys-learned', epoch: 2, to: 'g2' } }
    l.driver.onMessage(learned, ctx)
    expect(proposed).toEqual([step])
    // The gainer asks again; the refused step was not made, so it is proposed again (same term).
    takes = true
    l.driver.onMessage(learned, ctx)
    expect(proposed).toEqual([step, step])
    // Now it is in this term's log: asking again proposes nothing.
    l.driver.onMessage(learned, ctx)
    expect(proposed).toHaveLength(2)
  })
})
