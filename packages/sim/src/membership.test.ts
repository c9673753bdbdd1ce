/**
 * Membership changes under faults, in the simulator: replicas join as learners, are promoted,
 * voters are removed (the leader among them) and crashed ones replaced by brand-new replicas,
 * while clients run and replicas crash; every history is checked.
 */
import type { ClientResponse, MembersResponse, ReplicaStatus } from '@kv/protocol'
import { describe, expect, it } from 'vitest'
import { noFaults } from './nemesis.js'
import type { Protocol } from './protocols.js'
import { runScenario, scenarioFor, type Scenario } from './run.js'
import { SimWorld } from './world.js'

function membershipScenario(seed: number, protocol: Protocol): Scenario {
  const base = scenarioFor(seed, protocol)
  return {
    ...base,
    replicas: 3,
    durationMs: 4000,
    nemesis: { ...noFaults, crashes: true, membership: true, intervalMs: 120 },
  }
}

describe.each<Protocol>(['raft', 'paxos'])('%s membership changes in the simulator', (protocol) => {
  it.each([1, 2, 3])('replicas join, are promoted and removed, under crashes, and every history checks (seed %i)', (seed) => {
    const result = runScenario(membershipScenario(seed, protocol))
    expect(result.problems, `replay: membershipScenario(${seed}, ${protocol}) in membership.test.ts\n${result.faults.join('\n')}`).toEqual([])
    const changes = result.faults.filter((f) => f.includes('membership') && f.includes('→ index'))
    expect(changes.some((f) => f.includes('add-learner'))).toBe(true)
    expect(changes.some((f) => f.includes('promote'))).toBe(true)
    expect(changes.some((f) => f.includes('remove'))).toBe(true)
    expect(result.faults.some((f) => f.includes('retire'))).toBe(true)
  })
})

describe.each<Protocol>(['raft', 'paxos'])('%s: the replica shell answers membership admin requests', (protocol) => {
  it('adds a replica with its address, promotes it, removes a voter, and every replica lists the same', () => {
    const world = new SimWorld({ seed: 3, protocol, coreOptions: { alpha: 4 } })
    world.addClients(2, { kind: 'mixed', keys: 3, opsPerClient: null })
    world.runUntil(() => world.leader() !== null, 2000)
    const answers: Array<ClientResponse | ReplicaStatus | MembersResponse> = []
    const ask = (action: 'add' | 'promote' | 'remove' | 'list', id?: string, address?: string, at = world.leader()!): void => {
      at.replica!.request({ type: 'member', action, ...(id === undefined ? {} : { replicaId: id }), ...(address === undefined ? {} : { address }) }, (r) => answers.push(r))
      at.replica!.flush()
    }
    /** Asks the leader until it takes the change (a Paxos change takes over α slots after the last), and waits for the answer. */
    const change = (action: 'add' | 'promote' | 'remove', id: string, address?: string): MembersResponse => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const before = answers.length
        ask(action, id, address)
        world.runUntil(() => answers.length > before, 2000)
        const last = answers.at(-1)!
        if (last.type === 'members') return last
        world.runFor(100)
      }
      throw new Error(`${action} ${id} never taken: ${JSON.stringify(answers.at(-1))}`)
    }
    world.addReplica('g1', 'g1-m1')
    const added = change('add', 'g1-m1', 'node4.example:7004')
    expect(added.learners).toEqual(['g1-m1'])
    expect(added.addresses).toEqual({ 'g1-m1': 'node4.example:7004' })
    world.runFor(500)
    expect(change('promote', 'g1-m1').voters).toContain('g1-m1')
    const removed = change('remove', 'g1-r3')
    expect(removed.voters).not.toContain('g1-r3')
    world.runFor(500)
    for (const node of world.nodes.filter((n) => n.alive && n.id !== 'g1-r3')) {
      ask('list', undefined, undefined, node)
      expect(answers.at(-1)).toMatchObject({ type: 'members', voters: removed.voters, addresses: { 'g1-m1': 'node4.example:7004' } })
    }
    // Admitted once: never again (BAD_REQUEST, final); a promotion of a voter likewise.
    ask('add', 'g1-m1', 'node4.example:7004')
    world.runFor(50)
    expect(answers.at(-1)).toMatchObject({ type: 'error', code: 'BAD_REQUEST' })
    expect((answers.at(-1) as { message: string }).message).toContain('already-admitted')
  })

  it('a replica that joins after the other joiner\'s entry was compacted learns its address from the snapshot', () => {
    const world = new SimWorld({ seed: 5, protocol, coreOptions: { alpha: 4 }, limits: { snapshotEveryEntries: 20 } })
    world.addClients(2, { kind: 'mixed', keys: 3, opsPerClient: null })
    world.runUntil(() => world.leader() !== null, 2000)
    const answers: Array<ClientResponse | ReplicaStatus | MembersResponse> = []
    const ask = (at: NonNullable<ReturnType<SimWorld['leader']>>, id?: string, address?: string): void => {
      at.replica!.request(id === undefined ? { type: 'member', action: 'list' } : { type: 'member', action: 'add', replicaId: id, address: address! }, (r) => answers.push(r))
      at.replica!.flush()
    }
    const add = (id: string, address: string): void => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const before = answers.length
        ask(world.leader()!, id, address)
        world.runUntil(() => answers.length > before, 2000)
        if (answers.at(-1)!.type === 'members') return
        world.runFor(100)
      }
      throw new Error(`add ${id} never taken: ${JSON.stringify(answers.at(-1))}`)
    }
    world.addReplica('g1', 'g1-m1')
    add('g1-m1', 'node4.example:7004')
    // Well past a few snapshots: the add-learner entry of g1-m1 is compacted on every replica.
    world.runUntil(() => world.nodes.every((n) => !n.alive || n.replica!.core.status().firstIndex > 60), 20_000)
    const late = world.addReplica('g1', 'g1-m2')
    add('g1-m2', 'node5.example:7005')
    const addedAt = (answers.at(-1) as MembersResponse).index
    // It catches up by snapshot (the log it needs is compacted), then applies its own add.
    world.runUntil(() => late.replica!.core.status().firstIndex > 1 && late.replica!.replicaStatus().appliedIndex >= addedAt, 5000)
    expect(late.replica!.core.status().firstIndex).toBeGreaterThan(1)
    ask(late)
    expect(answers.at(-1)).toMatchObject({ type: 'members', addresses: { 'g1-m1': 'node4.example:7004', 'g1-m2': 'node5.example:7005' } })
  })
})
