import { parseEndpoint } from '@kv/client'
import { topologyGroups, type GroupSpec } from '@kv/protocol'
import type { ClusterView } from './client-target.js'
import { formatRows } from './table.js'

export interface ReplicaRow {
  group: string
  replica: string
  address: string
  role: string
  term: number | null
  leader: string | null
  commitIndex: number | null
  appliedIndex: number | null
  digest: string | null
  /** Shard groups: epoch applied, keys held, migrations under way. */
  epoch?: number
  keys?: number
  migrations?: readonly string[]
  /** The node process: kv release, seconds up, bytes in its data folder. */
  version?: string
  uptimeSeconds?: number
  dataBytes?: number
  error: string | null
}

/**
 * Asks every replica for its status (in parallel; an unreachable one shows as down): those the
 * config (or topology) lists, and the members each group admitted since (`kv member add`), as
 * its membership says; a listed replica the group removed shows as `removed`.
 */
export async function collectStatus(
  cluster: ClusterView,
  digest = false,
  timeoutMs = 1500,
  /** Groups outside the config too (added with their own replicas). */
  extra: readonly GroupSpec[] = [],
): Promise<ReplicaRow[]> {
  const client = cluster.client(timeoutMs)
  const groups: Array<Pick<GroupSpec, 'id' | 'replicas'>> = [...topologyGroups(cluster.topology)]
  for (const g of extra) if (!groups.some((x) => x.id === g.id)) groups.push(g)
  try {
    const memberships = await Promise.all(groups.map((g) => client.member({ action: 'list' }, { group: g.id, timeoutMs }).catch(() => null)))
    const rows = groups.flatMap((g, gi) => {
      const view = memberships[gi] ?? null
      const isMember = (id: string) => view === null || view.voters.includes(id) || view.learners.includes(id)
      const joined = Object.entries(view?.addresses ?? {}).filter(([id]) => !g.replicas.some((r) => r.id === id)).flatMap(([id, address]) => {
        try {
          return [{ id, ...parseEndpoint(address) }]
        } catch {
          return [] // not host:port: nothing to ask
        }
      })
      return [...g.replicas, ...joined].map(async (r): Promise<ReplicaRow> => {
        const row = await statusRow(g.id, r)
        return isMember(r.id) ? row : { ...row, role: 'removed' }
      })
    })
    return await Promise.all(rows)
  } finally {
    await client.close()
  }

  async function statusRow(group: string, r: { id: string; host: string; port: number }): Promise<ReplicaRow> {
    const address = `${r.host}:${r.port}`
    try {
      const s = await client.status(address, { timeoutMs, digest })
      return {
        group, replica: r.id, address, role: s.role, term: s.term, leader: s.leader,
        commitIndex: s.commitIndex, appliedIndex: s.appliedIndex, digest: s.digest ?? null, error: null,
        ...(s.epoch === undefined ? {} : { epoch: s.epoch }),
        ...(s.keys === undefined ? {} : { keys: s.keys }),
        ...(s.migrations === undefined ? {} : { migrations: s.migrations }),
        ...(s.version === undefined ? {} : { version: s.version }),
        ...(s.uptimeSeconds === undefined ? {} : { uptimeSeconds: s.uptimeSeconds }),
        ...(s.dataBytes === undefined ? {} : { dataBytes: s.dataBytes }),
      }
    } catch (e) {
      return {
        group, replica: r.id, address, role: 'down', term: null, leader: null,
        commitIndex: null, appliedIndex: null, digest: null, error: e instanceof Error ? e.message : String(e),
      }
    }
  }
}

export function formatTable(rows: readonly ReplicaRow[], withDigest = false, withProcess = false): string {
  const header = ['GROUP', 'REPLICA', 'ADDRESS', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'EPOCH', 'KEYS', ...(withDigest ? ['DIGEST'] : []), ...(withProcess ? ['VERSION', 'UPTIME', 'DATA'] : [])]
  const cells = rows.map((r) => [
    r.group, r.replica, r.address, r.role, String(r.term ?? '-'), String(r.commitIndex ?? '-'), String(r.appliedIndex ?? '-'),
    String(r.epoch ?? '-'), String(r.keys ?? '-'),
    ...(withDigest ? [r.digest ?? '-'] : []),
    ...(withProcess ? [r.version ?? '-', r.uptimeSeconds === undefined ? '-' : duration(r.uptimeSeconds), r.dataBytes === undefined ? '-' : bytes(r.dataBytes)] : []),
  ])
  return formatRows(header, cells)
}

/** `kv status`: the table (or JSON); true when every group has a leader. */
export async function statusTable(cluster: ClusterView, json: boolean): Promise<boolean> {
  const rows = await collectStatus(cluster)
  console.log(json ? JSON.stringify(rows) : formatTable(rows, false, true))
  const leaderless = groupsWithoutLeader(rows)
  if (leaderless.length > 0 && !json) console.error(`no leader: ${leaderless.join(', ')}`)
  return leaderless.length === 0
}

/** The groups none of whose replicas answered as leader. */
export function groupsWithoutLeader(rows: readonly ReplicaRow[]): string[] {
  const groups = [...new Set(rows.map((r) => r.group))]
  return groups.filter((g) => !rows.some((r) => r.group === g && r.role === 'leader'))
}

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds}s`
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)}h`
  return `${Math.floor(seconds / 86_400)}d`
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(1)} GiB`
}
