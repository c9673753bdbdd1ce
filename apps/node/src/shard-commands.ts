import { HashRing } from '@kv/hashring'
import { parseEndpoint } from '@kv/client'
import type { GroupSpec } from '@kv/protocol'
import type { Command } from 'commander'
import { protocolArg } from './args.js'
import { UsageError, withClient, type ClientFlags } from './client-commands.js'
import type { ClusterView } from './client-target.js'
import { collectStatus } from './status.js'
import { formatRows } from './table.js'

/** `kv shard add | remove | list`: change and show the shard map (through the controller group). */
export function addShardCommands(program: Command): void {
  const flags = (cmd: Command): ClientFlags => cmd.optsWithGlobals<ClientFlags>()
  const shard = program.command('shard').description('the shard map: which groups share the keys')
  shard
    .command('add')
    .description('add a shard group; its keys migrate to it while clients work')
    .requiredOption('--group <id>', 'the group id (its replicas from the config or the discovered topology, or --replicas)')
    .option('--replicas <list>', 'host:port,host:port,... (replica ids <group>-r1, -r2, ...)')
    .option('--protocol <p>', 'with --replicas: raft or paxos', protocolArg, 'raft')
    .action(async (o: { group: string; replicas?: string; protocol: 'raft' | 'paxos' }, cmd: Command) => {
      const f = flags(cmd)
      await withClient(f, async (c, view) => {
        const group = groupToAdd(view, o)
        const epoch = await c.addShardGroup(group)
        print(f, { group: group.id, epoch }, `added ${group.id}: shard map epoch ${epoch} (keys migrate now; see kv shard list)`)
      })
    })
  shard
    .command('remove <id>')
    .description('remove a shard group; its keys migrate to the others')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const f = flags(cmd)
      await withClient(f, async (c) => {
        const epoch = await c.removeShardGroup(id)
        print(f, { group: id, epoch }, `removed ${id}: shard map epoch ${epoch} (keys migrate now; see kv shard list)`)
      })
    })
  shard
    .command('list')
    .description('the shard map: epoch, groups, arcs, keys per group, migrations under way')
    .action(async (_o: unknown, cmd: Command) => {
      const f = flags(cmd)
      await withClient(f, async (c, view) => {
        const map = await c.shardMap()
        if (map === null) throw new UsageError('the controller has no shard map yet (is its group up?)')
        const ring = new HashRing({ groups: map.groups.map((g) => g.id), vnodesPerGroup: map.vnodesPerGroup })
        const arcs = new Map<string, number>()
        for (const a of ring.arcs()) arcs.set(a.group, (arcs.get(a.group) ?? 0) + 1)
        const rows = await collectStatus(view, false, 1500, map.groups)
        const groups = [...new Set([...map.groups.map((g) => g.id), ...rows.map((r) => r.group)])].filter((id) => id !== view.topology.controller?.id)
        const lines = groups.map((id) => {
          const leader = rows.find((r) => r.group === id && r.role === 'leader')
          const any = leader ?? rows.find((r) => r.group === id && r.role !== 'down')
          return {
            group: id,
            inMap: map.groups.some((g) => g.id === id),
            arcs: arcs.get(id) ?? 0,
            keys: any?.keys ?? null,
            epoch: any?.epoch ?? null,
            migrations: any?.migrations ?? [],
          }
        })
        const text = [
          `epoch ${map.epoch}, ${map.groups.length} group(s) in the map, ${map.vnodesPerGroup} virtual nodes each`,
          formatRows(['GROUP', 'IN MAP', 'ARCS', 'KEYS', 'EPOCH', 'MIGRATIONS'], lines.map((l) => [
            l.group, l.inMap ? 'yes' : 'no', String(l.arcs), String(l.keys ?? '-'), String(l.epoch ?? '-'), l.migrations.join(', ') || '-',
          ])),
        ].join('\n')
        print(f, { epoch: map.epoch, vnodesPerGroup: map.vnodesPerGroup, groups: lines }, text)
      })
    })
}

function groupToAdd(view: ClusterView, o: { group: string; replicas?: string; protocol: 'raft' | 'paxos' }): GroupSpec {
  if (o.replicas !== undefined) {
    const endpoints = o.replicas.split(',').map((e) => parseEndpoint(e))
    return { id: o.group, protocol: o.protocol, replicas: endpoints.map((e, i) => ({ id: `${o.group}-r${i + 1}`, host: e.host, port: e.port })) }
  }
  // The config's own entry when there is one: the controller compares a group added twice field by field.
  const spec = (view.config?.groups ?? view.topology.groups).find((g) => g.id === o.group)
  if (spec === undefined) throw new UsageError(`no group ${o.group} in ${view.source}; give its replicas with --replicas host:port,...`)
  return spec
}

function print(f: ClientFlags, json: unknown, text: string): void {
  console.log(f.json === true ? JSON.stringify(json) : text)
}
