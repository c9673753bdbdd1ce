/**
 * Membership changes of real `kv node`s under faults: a dead replica is replaced by a new one
 * on a new address with one command (`kv member replace`) while clients write through 5 %
 * frame loss; the newcomer catches up by snapshot (the log it needs is compacted), votes
 * (the group survives losing another of its original replicas), survives a restart, and
 * every history is checked.
 */
import { HistoryRecorder } from '@kv/sim'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectLinearizable, repoRoot, runKv, sleep, startCluster, waitFor, type ProcessCluster } from './harness.js'
import { runWorkload } from './workload.js'

const protocols = [
  { protocol: 'raft', basePort: 23300 },
  { protocol: 'paxos', basePort: 23320 },
] as const

async function members(c: ProcessCluster): Promise<{ members: Array<{ id: string; role: string; address: string }> }> {
  const r = await runKv(['--config', c.configPath, '--json', 'member', 'list', '--group', 'g1'])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as { members: Array<{ id: string; role: string; address: string }> }
}

describe.concurrent('membership changes with processes', () => {
  it.for(protocols)('$protocol: a dead replica is replaced on a new address with one command under load and frame loss; the newcomer catches up by snapshot, votes, restarts, and the history is linearizable', { timeout: 150_000 }, async ({ protocol, basePort }, ctx) => {
    const c = await startCluster(ctx, {
      name: `member-${protocol}`, basePort, protocol, nodeFlags: ['--drop-rate', '0.05'],
      configure: (config) => ({ ...config, snapshotEveryEntries: 100 }),
    })
    const [r1, r2, r3] = c.replicasOf('g1') as [string, string, string]
    await c.waitForLeader()
    const history = new HistoryRecorder()
    const keys = ['m-a', 'm-b', 'm-c', 'm-d']
    let done = false
    const load = runWorkload(c, history, { clients: 3, keys, opsPerClient: 5000, durationMs: 100_000, timeoutMs: 8000, pauseMs: 5, until: () => done })
    await sleep(1500)

    // r3 dies for good; the group goes on with two of three.
    await c.kill(r3, 'SIGKILL')
    const probe = c.client({ timeoutMs: 2000 })
    // Until the others have compacted their logs: the newcomer must catch up by snapshot.
    await waitFor('the log compacted on both replicas left', async () => {
      const rows = await Promise.all([r1, r2].map((id) => c.status(id, probe)))
      return rows.every((r) => r !== null && (r.firstIndex ?? 1) > 1) ? true : undefined
    }, 60_000)
    // Its replacement: a new id on a new address, started empty, then admitted with one command.
    const address = `127.0.0.1:${basePort + 9}`
    c.join('g1-r4', 'g1', address)
    const replaced = await runKv(['--config', c.configPath, '--json', 'member', 'replace', '--group', 'g1', '--id', r3, '--new-id', 'g1-r4', '--host', address], 90_000)
    expect(replaced.code, `${replaced.stdout}\n${replaced.stderr}\n${c.logTail('g1-r4')}`).toBe(0)
    const after = JSON.parse(replaced.stdout) as { index: number; members: Array<{ id: string; role: string; address: string }> }
    expect(after.members.map((m) => `${m.id}/${m.role}`).sort()).toEqual([`${r1}/voter`, `${r2}/voter`, 'g1-r4/voter'])
    expect(after.members.find((m) => m.id === 'g1-r4')?.address).toBe(address)
    // The log it needed was compacted by then: it caught up from a snapshot.
    expect(readFileSync(c.logPath('g1-r4'), 'utf8')).toContain('snapshot received from the leader and stored')

    // It votes: with the leader killed, the other original replica and the newcomer elect one.
    // (Paxos: once the removal governs, α slots after it, which the leader fills with no-ops at
    // once; before that the membership with r3 still counts, and losing another replica in that
    // window would stall the group until one returned.)
    const removedAt = after.index
    await waitFor('the removal of r3 in effect on every member', async () => {
      const rows = await Promise.all([r1, r2, 'g1-r4'].map((id) => c.status(id, probe)))
      return rows.every((r) => r !== null && r.commitIndex >= removedAt + 32) ? true : undefined
    }, 30_000)
    const leader = await c.waitForLeader({ exclude: [r3] })
    await c.kill(leader, 'SIGKILL')
    const next = await c.waitForLeader({ exclude: [r3, leader] })
    expect([r1, r2, 'g1-r4']).toContain(next)
    await sleep(1500)
    await c.restart(leader)
    // And it keeps its membership across a restart (snapshot file and log).
    await c.restart('g1-r4')
    await sleep(1500)
    done = true
    const result = await load
    expect(result.ok).toBeGreaterThan(100)

    const ids = [r1, r2, 'g1-r4']
    await c.waitForConvergence(ids, 60_000)
    const listed = await members(c)
    expect(listed.members.map((m) => m.id).sort()).toEqual([...ids].sort())
    // Every replica has the same membership (each one's own applied view).
    for (const id of ids) {
      const r = await runKv(['--endpoints', c.address(id), '--token', c.config.token, '--json', 'member', 'list'])
      expect(r.code, r.stderr).toBe(0)
      expect((JSON.parse(r.stdout) as { members: Array<{ id: string }> }).members.map((m) => m.id).sort()).toEqual([...ids].sort())
    }
    // kv status lists the newcomer (in no config) and shows the replica replaced as removed.
    const status = await runKv(['--config', c.configPath, '--json', 'status'])
    const rows = JSON.parse(status.stdout) as Array<{ replica: string; role: string }>
    expect(rows.find((r) => r.replica === 'g1-r4')?.role).toMatch(/leader|follower/)
    expect(rows.find((r) => r.replica === r3)?.role).toBe('removed')
    expectLinearizable(history)
  })

  it.for(protocols)('$protocol: bad member requests get clear errors', { timeout: 60_000 }, async ({ protocol, basePort }, ctx) => {
    const c = await startCluster(ctx, { name: `member-bad-${protocol}`, basePort: basePort + 10, protocol })
    await c.waitForLeader()
    const [r1] = c.replicasOf('g1') as [string]
    const again = await runKv(['--config', c.configPath, 'member', 'add', '--group', 'g1', '--id', r1, '--host', '127.0.0.1:1'])
    expect(again.code).toBe(2)
    expect(again.stderr).toContain(`${r1} is a member already`)
    const unknown = await runKv(['--config', c.configPath, 'member', 'remove', '--group', 'g1', '--id', 'nobody'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('not a member')
    const noGroup = await runKv(['--config', c.configPath, 'member', 'list', '--group', 'g9'])
    expect(noGroup.code).toBe(2)
    expect(noGroup.stderr).toContain('no group "g9"')
    const badHost = await runKv(['--config', c.configPath, 'member', 'add', '--group', 'g1', '--id', 'x', '--host', 'nowhere'])
    expect(badHost.code).toBe(2)
    const joinWithoutAddress = await runKv(['--config', c.configPath, 'node', '--id', 'g1-r9', '--join', 'g1'])
    expect(joinWithoutAddress.code).toBe(2)
    expect(joinWithoutAddress.stderr).toContain('--join <group> and --advertise <host:port> go together')
    await waitFor('the members listed', async () => ((await members(c)).members.length === 3 ? true : undefined))
  })
})

describe('membership changes in a sharded cluster', () => {
  it('raft: a shard group led by a replica admitted at runtime (in no config, no shard map) migrates its keys to an added group', { timeout: 180_000 }, async (ctx) => {
    const basePort = 23360
    const c = await startCluster(ctx, { name: 'member-sharded', basePort, protocol: 'raft', groups: 1, spare: 1 })
    await c.waitForLeader({ group: 'ctl' })
    await c.waitForLeader({ group: 'g1' })
    const history = new HistoryRecorder()
    const keys = Array.from({ length: 16 }, (_, i) => `sk${i}`)
    let done = false
    const load = runWorkload(c, history, { clients: 3, keys, opsPerClient: 5000, durationMs: 150_000, timeoutMs: 10_000, pauseMs: 5, until: () => done })
    await sleep(1000)
    // g1-r3 dies; g1-r4, on an address no config or shard map lists, takes its place.
    await c.kill('g1-r3', 'SIGKILL')
    const address = `127.0.0.1:${basePort + 30}`
    c.join('g1-r4', 'g1', address)
    const replaced = await runKv(['--config', c.configPath, 'member', 'replace', '--group', 'g1', '--id', 'g1-r3', '--new-id', 'g1-r4', '--host', address], 90_000)
    expect(replaced.code, `${replaced.stdout}\n${replaced.stderr}`).toBe(0)
    // Pause g1's leader until g1-r4 is elected (each round one of the other two wins).
    for (let round = 0; round < 12; round++) {
      const leader = await c.waitForLeader({ group: 'g1', exclude: ['g1-r3'] })
      if (leader === 'g1-r4') break
      await c.kill(leader, 'SIGSTOP')
      await c.waitForLeader({ group: 'g1', exclude: ['g1-r3', leader] })
      await c.kill(leader, 'SIGCONT')
      await sleep(500)
    }
    expect(await c.waitForLeader({ group: 'g1', exclude: ['g1-r3'] })).toBe('g1-r4')
    // The migration needs g1's leader to learn the new map (the controller answers g1-r4, whose
    // address its group message carried) and g2's requests to reach it (g1's followers hand them on).
    const admin = c.client({ timeoutMs: 60_000 })
    expect(await admin.addShardGroup(c.config.groups[1]!)).toBe(2)
    const probe = c.client({ timeoutMs: 2000 })
    await waitFor('g1 and g2 at epoch 2 with no migration under way', async () => {
      const rows = await Promise.all(['g1-r4', ...c.replicasOf('g2')].map((id) => c.status(id, probe, 1500)))
      return rows.every((r) => r !== null && r.epoch === 2 && (r.migrations?.length ?? 1) === 0) ? true : undefined
    }, 90_000, 300)
    done = true
    const result = await load
    expect(result.ok).toBeGreaterThan(50)
    const moved = await Promise.all(c.replicasOf('g2').map((id) => c.status(id, probe, 1500)))
    expect(moved.some((r) => (r?.keys ?? 0) > 0)).toBe(true)
    // The controller's replicas never had g1-r4 in their config: they learned it from its message.
    expect(c.replicasOf('ctl').some((id) => readFileSync(c.logPath(id), 'utf8').includes('"source":"a message of group g1"'))).toBe(true)
    expectLinearizable(history)
  })
})

describe('membership changes with TLS', () => {
  it('raft: a replica admitted at runtime joins over mutual TLS, votes and holds the data', { timeout: 90_000 }, async (ctx) => {
    const fixtures = path.join(repoRoot, 'test-fixtures/tls')
    const c = await startCluster(ctx, {
      name: 'member-tls', basePort: 23400, protocol: 'raft',
      configure: (config) => ({ ...config, tls: { caFile: path.join(fixtures, 'ca.crt'), certFile: path.join(fixtures, 'replica.crt'), keyFile: path.join(fixtures, 'replica.key'), requireClientCert: false } }),
    })
    await c.waitForLeader()
    const writer = c.client({ timeoutMs: 10_000 })
    for (let i = 0; i < 20; i++) await writer.put(`t${i}`, `v${i}`)
    const address = '127.0.0.1:23409'
    c.join('g1-r4', 'g1', address)
    const added = await runKv(['--config', c.configPath, '--json', 'member', 'add', '--group', 'g1', '--id', 'g1-r4', '--host', address], 60_000)
    expect(added.code, `${added.stdout}\n${added.stderr}\n${c.logTail('g1-r4')}`).toBe(0)
    const members = JSON.parse(added.stdout) as { members: Array<{ id: string; role: string }> }
    expect(members.members.find((m) => m.id === 'g1-r4')?.role).toBe('voter')
    await writer.put('after', 'joined')
    const ids = [...c.replicasOf('g1')]
    expect(ids).toContain('g1-r4')
    await c.waitForConvergence(ids, 30_000)
    // Its peers accepted its TLS handshakes as g1-r4.
    expect(readFileSync(c.logPath('g1-r4'), 'utf8')).not.toContain('TLS handshake failed')
    expect(c.replicasOf('g1').filter((id) => id !== 'g1-r4').some((id) => readFileSync(c.logPath(id), 'utf8').includes('"remoteNodeId":"g1-r4"'))).toBe(true)
  })
})
