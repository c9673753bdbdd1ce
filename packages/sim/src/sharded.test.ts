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
})
