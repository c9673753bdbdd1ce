/**
 * The sharded suite in the simulator: a controller group and shard groups running the same
 * replica code as `kv node`, clients routing by the ring, the shard map changed live. Every
 * history is checked for linearizability; after each run every group is at the controller's
 * newest epoch with no migration under way, and holds exactly the keys the ring gives it.
 */
import { layoutCluster, parseClusterSpec, ShardRouter, type ClusterSpec } from '@kv/protocol'
import { describe, expect, it } from 'vitest'
import { checkLinearizability } from './linearizability/index.js'
import { noFaults } from './nemesis.js'
import { reliableNetwork } from './network.js'
import { protocols, type Protocol } from './protocols.js'
import { SimWorld } from './world.js'

function cluster(protocol: Protocol, groups: number, initial: number): ClusterSpec {
  const spec = layoutCluster({ clusterId: 'sim', token: 'sim', f: 1, groups, protocol, basePort: 1, host: 'sim', controller: true })
  return parseClusterSpec({ ...spec, initialGroups: spec.groups.slice(0, initial).map((g) => g.id) })
}

function expectSettled(w: SimWorld): void {
  expect(w.quiesce(), 'clients finished').toBe(true)
  expect(w.converge(20_000), 'groups converged and every migration finished').toBe(true)
  for (const c of w.clients) expect(c.unexpected).toEqual([])
  const ctl = w.group('ctl').nodes.find((n) => n.alive)!.replica!.stateMachine
  const map = 'current' in ctl ? ctl.current! : null
  const router = new ShardRouter(map!)
  for (const g of w.shardGroups) {
    for (const n of g.nodes) {
      for (const [k] of n.kv.entries()) expect(router.groupOf(k).id, `${n.id} holds ${k}`).toBe(g.spec.id)
    }
  }
  const check = checkLinearizability(w.history.operations())
  expect(check.result, check.result === 'illegal' ? check.explanation : '').toBe('ok')
}

describe.each(Object.keys(protocols) as Protocol[])('%s protocol, sharded suite', (protocol) => {
  it('serves through the ring from the controller’s first map', () => {
    const w = new SimWorld({ seed: 201, protocol, spec: cluster(protocol, 2, 2) })
    w.addClients(3, { kind: 'mixed', keys: 10, opsPerClient: 30 })
    w.runFor(3000)
    expectSettled(w)
    expect(w.clients.reduce((n, c) => n + c.completed, 0)).toBeGreaterThan(60)
  })

  it('adds a shard and then removes one while clients work; moved keys leave the old group', () => {
    const w = new SimWorld({ seed: 202, protocol, spec: cluster(protocol, 3, 2) })
    w.addClients(4, { kind: 'mixed', keys: 20, opsPerClient: null })
    w.runFor(1500)
    const answers: unknown[] = []
    w.admin.change({ op: 'addGroup', group: w.spec.groups[2]! }, (r) => answers.push(r))
    w.runFor(1500)
    w.admin.change({ op: 'removeGroup', groupId: 'g1' }, (r) => answers.push(r))
    w.runFor(2000)
    expect(answers).toMatchObject([{ result: { epoch: 2 } }, { result: { epoch: 3 } }])
    expectSettled(w)
    expect(w.group('g1').nodes.every((n) => [...n.kv.entries()].length === 0)).toBe(true)
    expect([...w.group('g3').nodes[0]!.kv.entries()].length).toBeGreaterThan(0)
  })

  it('migrates under crashes, partitions and an unreliable network: add, remove, re-add', () => {
    const w = new SimWorld({
      seed: 203,
      protocol,
      spec: cluster(protocol, 3, 2),
      nemesis: { ...noFaults, crashes: true, partitions: true, flakyNetwork: true, intervalMs: 400 },
    })
    w.addClients(4, { kind: 'mixed', keys: 16, opsPerClient: null })
    w.nemesis.start()
    w.runFor(1000)
    w.admin.change({ op: 'addGroup', group: w.spec.groups[2]! })
    w.runFor(2000)
    w.admin.change({ op: 'removeGroup', groupId: 'g2' })
    w.runFor(2000)
    w.admin.change({ op: 'addGroup', group: w.spec.groups[1]! })
    w.runFor(2000)
    expectSettled(w)
    expect(w.controllerEpoch()).toBe(4)
  })

  it.each([['low', 0.01], ['medium', 0.1], ['high', 0.3]] as const)('migrates with %s message loss on every link (%s of messages dropped): add, then remove', (_level, dropRate) => {
    const w = new SimWorld({
      seed: 205,
      protocol,
      spec: cluster(protocol, 2, 1),
      network: { ...reliableNetwork, dropRate, maxDelayMs: 5 },
    })
    w.addClients(4, { kind: 'mixed', keys: 16, opsPerClient: null })
    w.runFor(800)
    w.admin.change({ op: 'addGroup', group: w.spec.groups[1]! })
    w.runFor(3000)
    w.admin.change({ op: 'removeGroup', groupId: 'g1' })
    w.runFor(3000)
    expect(w.net.dropped).toBeGreaterThan(0)
    expectSettled(w)
    expect(w.controllerEpoch()).toBe(3)
    for (const n of w.group('g1').nodes) expect([...n.kv.entries()], `${n.id} holds keys after its removal`).toEqual([])
  })

  it('adding the same group twice is a no-op answered with the current epoch; a group with no keys yet joins at once', () => {
    const w = new SimWorld({ seed: 204, protocol, spec: cluster(protocol, 2, 1) })
    const answers: unknown[] = []
    w.admin.change({ op: 'addGroup', group: w.spec.groups[1]! }, (r) => answers.push(r))
    w.admin.change({ op: 'addGroup', group: w.spec.groups[1]! }, (r) => answers.push(r))
    w.admin.change({ op: 'addGroup', group: { ...w.spec.groups[1]!, replicas: w.spec.groups[1]!.replicas.slice(0, 1) } }, (r) => answers.push(r))
    w.runFor(2000)
    expect(answers).toMatchObject([{ result: { epoch: 2 } }, { result: { epoch: 2 } }, { type: 'error', code: 'BAD_REQUEST' }])
    // Nothing was written before the add: the migration moved no key.
    expect(w.migrationSteps.filter((e) => e.step === 'install').every((e) => e.keys === 0)).toBe(true)
    w.addClients(2, { kind: 'mixed', keys: 10, opsPerClient: 20 })
    w.runFor(2000)
    expectSettled(w)
  })

  it('serves the arcs that do not move while a migration is stuck (the gaining group is down)', () => {
    const w = new SimWorld({ seed: 205, protocol, spec: cluster(protocol, 2, 1) })
    w.addClients(1, { kind: 'mixed', keys: 10, opsPerClient: 30 })
    w.runFor(1500)
    // g2 applies the new map, then all of it goes down before any key arrives.
    let stopped = false
    w.options.onMigrationStep = (node, e) => {
      if (stopped || node.groupId !== 'g2' || e.step !== 'config' || e.epoch !== 2) return
      stopped = true
      w.queue.after(0, () => w.group('g2').nodes.forEach((n) => n.crash()))
    }
    w.admin.change({ op: 'addGroup', group: w.spec.groups[1]! })
    w.runFor(1000)
    expect(stopped).toBe(true)
    const router = new ShardRouter({ epoch: 2, vnodesPerGroup: w.spec.vnodesPerGroup, groups: w.spec.groups })
    // A prefix whose first keys all stay on g1 (clients make one call at a time: one stuck
    // call on a moving key would hold a client up for its whole deadline).
    const prefix = Array.from({ length: 200 }, (_, i) => `s${i}-`).find((p) => [0, 1, 2, 3].every((n) => router.groupOf(`${p}${n}`).id === 'g1'))!
    const moving = Array.from({ length: 200 }, (_, i) => `m${i}-`).find((p) => [0, 1, 2, 3].every((n) => router.groupOf(`${p}${n}`).id === 'g2'))!
    const before = w.clients.length
    w.addClients(2, { kind: 'mixed', keys: 4, opsPerClient: 12, keyPrefix: prefix })
    const [stuck] = w.addClients(1, { kind: 'mixed', keys: 4, opsPerClient: 12, keyPrefix: moving })
    w.runFor(3000)
    expect(stuck!.completed).toBe(0)
    expect(w.shardGroups[1]!.nodes.every((n) => !n.alive)).toBe(true)
    const during = w.history.operations().filter((o) => o.clientId > before && o.output.type !== 'unknown')
    const keyOf = (o: (typeof during)[number]) => ('key' in o.input ? o.input.key : o.input.entries[0]![0])
    // g1 answered for the arcs it keeps, while nothing on the arcs waiting for the down group completed.
    expect(during.filter((o) => router.groupOf(keyOf(o)).id === 'g1').length).toBeGreaterThan(0)
    for (const n of w.group('g2').nodes) n.start()
    expectSettled(w)
  })

  it('adds a shard while the losing group has lost its leader (it elects another and migrates)', () => {
    const w = new SimWorld({ seed: 207, protocol, spec: cluster(protocol, 2, 1) })
    w.addClients(3, { kind: 'mixed', keys: 16, opsPerClient: null })
    w.runFor(1000)
    const leader = w.leader(w.group('g1'))!
    leader.crash()
    w.admin.change({ op: 'addGroup', group: w.spec.groups[1]! })
    w.runFor(3000)
    expect(leader.alive).toBe(false)
    expect(w.migrationSteps.some((e) => e.step === 'keys-learned' && e.group === 'g1')).toBe(true)
    expectSettled(w)
  })

  // Crash a group's leader right after it applies each step of the migration g1 → g2.
  it.each([
    ['the new group', 'g2', 'send-keys-request'],
    ['the new group', 'g2', 'install'],
    ['the new group', 'g2', 'shard-ready'],
    ['the old group', 'g1', 'config'],
    ['the old group', 'g1', 'send-keys-response'],
    ['the old group', 'g1', 'keys-learned'],
  ] as const)('survives %s (%s) losing its leader after it applies %s', (_who, group, step) => {
    const w = new SimWorld({ seed: 206, protocol, spec: cluster(protocol, 2, 1) })
    w.addClients(3, { kind: 'mixed', keys: 16, opsPerClient: null })
    w.runFor(1000)
    let struck: string | null = null
    w.options.onMigrationStep = (node, e) => {
      if (struck !== null || node.groupId !== group || e.step !== step) return
      if (node.replica?.core.status().role !== 'leader') return
      struck = node.id
      w.queue.after(0, () => node.crash())
      w.queue.after(300, () => node.start())
    }
    w.admin.change({ op: 'addGroup', group: w.spec.groups[1]! })
    w.runFor(4000)
    expect(struck, `a leader of ${group} applied ${step}`).not.toBeNull()
    expectSettled(w)
    expect(w.migrationSteps.some((e) => e.step === 'learned-acked')).toBe(true)
  })
})
