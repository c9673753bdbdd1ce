import { BadRequestError, parseEndpoint, UnavailableError, type KvClient, type MembersView } from '@kv/client'
import { endpointKey, topologyGroups } from '@kv/protocol'
import type { Command } from 'commander'
import { UsageError, withClient, type ClientFlags } from './client-commands.js'
import type { ClusterView } from './client-target.js'
import { formatRows } from './table.js'

interface MemberFlags {
  group?: string
  id: string
  host: string
  learner?: boolean
}

/**
 * `kv member list | add | promote | remove | replace`: a group's membership, changed one
 * replica at a time through its leader. A new replica joins as a learner, catches up (by
 * snapshot when the log it misses is compacted), and only then votes: `add` waits for that
 * and promotes it, `replace` then removes the replica it replaces.
 */
export function addMemberCommands(program: Command): void {
  const flags = (cmd: Command): ClientFlags & { group?: string } => cmd.optsWithGlobals<ClientFlags & { group?: string }>()
  const member = program
    .command('member')
    .description('a group\'s replicas: list them, add, promote, remove or replace one')
  member
    .command('list')
    .description('voters and learners of a group, with their addresses')
    .option('--group <id>', 'the group (may be left out in a cluster of one group)')
    .action(async (o: { group?: string }, cmd: Command) => {
      const f = flags(cmd)
      await withClient(f, async (c, view) => {
        const m = await c.member({ action: 'list' }, groupOption(o.group))
        printMembers(f, m, view, o.group)
      })
    })
  member
    .command('add')
    .description('admit a new replica (start it first: kv node --join <group> --advertise <host:port>); it votes once it has caught up')
    .option('--group <id>', 'the group (may be left out in a cluster of one group)')
    .requiredOption('--id <id>', 'the new replica\'s id (never used in this group before)')
    .requiredOption('--host <host:port>', 'where peers and clients reach it')
    .option('--learner', 'leave it a learner (no vote): promote it later with kv member promote')
    .action(async (o: MemberFlags, cmd: Command) => {
      const f = flags(cmd)
      const address = hostArg(o.host)
      await withClient(f, async (c, view) => {
        const deadline = Date.now() + waitMs(f)
        await addLearner(c, o, address)
        if (o.learner !== true) await promote(c, o, deadline)
        printMembers(f, await c.member({ action: 'list' }, groupOption(o.group)), view, o.group)
      })
    })
  const oneReplica = [
    { name: 'promote', what: 'make a learner a voter, once it has caught up (waits for that)', id: 'the learner', change: promote },
    { name: 'remove', what: 'take a replica out of the group (stop its process afterwards)', id: 'the replica', change: remove },
  ] as const
  for (const { name, what, id, change } of oneReplica) {
    member
      .command(name)
      .description(what)
      .option('--group <id>', 'the group (may be left out in a cluster of one group)')
      .requiredOption('--id <id>', id)
      .action(async (o: { group?: string; id: string }, cmd: Command) => {
        const f = flags(cmd)
        await withClient(f, async (c, view) => {
          await change(c, o, Date.now() + waitMs(f))
          printMembers(f, await c.member({ action: 'list' }, groupOption(o.group)), view, o.group)
        })
      })
  }
  member
    .command('replace')
    .description('replace a replica (a dead one, say) by a new one on a new address: add it, let it catch up, promote it, remove the old one')
    .option('--group <id>', 'the group (may be left out in a cluster of one group)')
    .requiredOption('--id <id>', 'the replica to replace')
    .requiredOption('--new-id <id>', 'the new replica\'s id (start it first: kv node --join <group> --advertise <host:port>)')
    .requiredOption('--host <host:port>', 'where the new replica is reached')
    .action(async (o: { group?: string; id: string; newId: string; host: string }, cmd: Command) => {
      const f = flags(cmd)
      const address = hostArg(o.host)
      await withClient(f, async (c, view) => {
        const deadline = Date.now() + waitMs(f)
        const before = await c.member({ action: 'list' }, groupOption(o.group))
        if (![...before.voters, ...before.learners].includes(o.id) && ![...before.voters, ...before.learners].includes(o.newId)) {
          throw new UsageError(`${o.id} is not a member of the group (members: ${[...before.voters, ...before.learners].join(', ')})`)
        }
        const joiner = { ...o, id: o.newId }
        await addLearner(c, joiner, address)
        await promote(c, joiner, deadline)
        await remove(c, o, deadline, true)
        printMembers(f, await c.member({ action: 'list' }, groupOption(o.group)), view, o.group)
      })
    })
}

function groupOption(group: string | undefined): { group?: string } {
  return group === undefined ? {} : { group }
}

function hostArg(text: string): string {
  try {
    const e = parseEndpoint(text)
    return `${e.host}:${e.port}`
  } catch {
    throw new UsageError(`--host ${JSON.stringify(text)}: expected host:port`)
  }
}

/** How long a change may wait for the group (a learner catching up): the --timeout, at least a minute. */
function waitMs(f: ClientFlags): number {
  return Math.max(60_000, f.timeout ?? 0)
}

/** Adds `o.id` as a learner; already admitted at this very address (an earlier attempt whose answer was lost) is done. */
async function addLearner(c: KvClient, o: { group?: string; id: string }, address: string): Promise<void> {
  try {
    await c.member({ action: 'add', replicaId: o.id, address }, groupOption(o.group))
  } catch (e) {
    if (!(e instanceof BadRequestError && e.message.includes('already-admitted'))) throw e
    const now = await c.member({ action: 'list' }, groupOption(o.group))
    if (!now.learners.includes(o.id) && !now.voters.includes(o.id)) throw e
    if (now.addresses[o.id] !== address) throw new UsageError(`${o.id} is a member already, at ${now.addresses[o.id] ?? 'its config address'}, not ${address}`)
  }
}

/**
 * Promotes `o.id`, asking again while the leader says not yet (the learner still catching up,
 * the last change not in effect), until `deadline`. A voter already is done.
 */
async function promote(c: KvClient, o: { group?: string; id: string }, deadline: number): Promise<void> {
  await untilTaken(deadline, async () => {
    try {
      await c.member({ action: 'promote', replicaId: o.id }, groupOption(o.group))
    } catch (e) {
      if (!(e instanceof BadRequestError && e.message.includes('unknown-id'))) throw e
      const now = await c.member({ action: 'list' }, groupOption(o.group))
      if (!now.voters.includes(o.id)) throw e
    }
  })
}

/**
 * Removes `o.id`. With `goneIsDone` (replace, which saw it a member), one that is no member any
 * more (an earlier attempt whose answer was lost) is done; else that is an error.
 */
async function remove(c: KvClient, o: { group?: string; id: string }, deadline: number, goneIsDone = false): Promise<void> {
  await untilTaken(deadline, async () => {
    try {
      await c.member({ action: 'remove', replicaId: o.id }, groupOption(o.group))
    } catch (e) {
      if (!goneIsDone || !(e instanceof BadRequestError && e.message.includes('unknown-id'))) throw e
      const now = await c.member({ action: 'list' }, groupOption(o.group))
      if (now.voters.includes(o.id) || now.learners.includes(o.id)) throw e
    }
  })
}

/** Runs `change` until it is taken: UNAVAILABLE (not yet, no leader) is asked again after a pause. */
async function untilTaken(deadline: number, change: () => Promise<void>): Promise<void> {
  for (;;) {
    try {
      return await change()
    } catch (e) {
      if (!(e instanceof UnavailableError) || Date.now() > deadline) throw e
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
}

function printMembers(f: ClientFlags, m: MembersView, view: ClusterView, group: string | undefined): void {
  const configured = new Map<string, string>()
  for (const g of topologyGroups(view.topology)) {
    if (group !== undefined && g.id !== group) continue
    for (const r of g.replicas) configured.set(r.id, endpointKey(r))
  }
  const rows = [...m.voters.map((id) => [id, 'voter']), ...m.learners.map((id) => [id, 'learner'])].map(([id, role]) => ({
    id: id!, role: role!, address: m.addresses[id!] ?? configured.get(id!) ?? '-',
  }))
  if (f.json === true) return console.log(JSON.stringify({ replica: m.replicaId, index: m.index, members: rows }))
  console.log(formatRows(['ID', 'ROLE', 'ADDRESS'], rows.map((r) => [r.id, r.role, r.address])))
}
