import { createClient } from '@kv/client'
import { allGroups, type GroupSpec } from '@kv/protocol'
import type { ClusterConfig } from './config.js'

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
  error: string | null
}

/** Asks every replica for its status (in parallel; an unreachable one shows as down). */
export async function collectStatus(
  config: ClusterConfig,
  digest = false,
  timeoutMs = 1500,
  /** Groups outside the config too (added with their own replicas). */
  extra: readonly GroupSpec[] = [],
): Promise<ReplicaRow[]> {
  const client = createClient({ config, timeoutMs })
  const groups = [...allGroups(config)]
  for (const g of extra) if (!groups.some((x) => x.id === g.id)) groups.push(g)
  try {
    const rows = groups.flatMap((g) =>
      g.replicas.map(async (r): Promise<ReplicaRow> => {
        const address = `${r.host}:${r.port}`
        try {
          const s = await client.status(address, { timeoutMs, digest })
          return {
            group: g.id, replica: r.id, address, role: s.role, term: s.term, leader: s.leader,
            commitIndex: s.commitIndex, appliedIndex: s.appliedIndex, digest: s.digest ?? null, error: null,
            ...(s.epoch === undefined ? {} : { epoch: s.epoch }),
            ...(s.keys === undefined ? {} : { keys: s.keys }),
            ...(s.migrations === undefined ? {} : { migrations: s.migrations }),
          }
        } catch (e) {
          return {
            group: g.id, replica: r.id, address, role: 'down', term: null, leader: null,
            commitIndex: null, appliedIndex: null, digest: null, error: e instanceof Error ? e.message : String(e),
          }
        }
      }),
    )
    return await Promise.all(rows)
  } finally {
    await client.close()
  }
}

export function formatTable(rows: readonly ReplicaRow[], withDigest = false): string {
  const header = ['GROUP', 'REPLICA', 'ADDRESS', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'EPOCH', 'KEYS', ...(withDigest ? ['DIGEST'] : [])]
  const cells = rows.map((r) => [
    r.group, r.replica, r.address, r.role, String(r.term ?? '-'), String(r.commitIndex ?? '-'), String(r.appliedIndex ?? '-'),
    String(r.epoch ?? '-'), String(r.keys ?? '-'),
    ...(withDigest ? [r.digest ?? '-'] : []),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(header), ...cells.map(line)].join('\n')
}

export async function statusTable(config: ClusterConfig, json: boolean): Promise<void> {
  const rows = await collectStatus(config)
  console.log(json ? JSON.stringify(rows) : formatTable(rows))
}
