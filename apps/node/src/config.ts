import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { z } from 'zod'

/** What `kv config generate` writes and every `kv` command reads. */
const replicaSchema = z.object({
  id: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
})

const groupSchema = z.object({
  id: z.string().min(1).max(64),
  protocol: z.enum(['raft', 'paxos']),
  replicas: z.array(replicaSchema).min(1).max(9),
})

export const clusterConfigSchema = z
  .object({
    clusterId: z.string().min(1).max(128),
    token: z.string().min(1).max(512),
    tickMs: z.number().int().min(1).max(1000).default(50),
    electionTimeoutTicks: z.number().int().min(2).max(1000).default(10),
    heartbeatTicks: z.number().int().min(1).max(1000).default(2),
    groups: z.array(groupSchema).min(1),
  })
  .superRefine((c, ctx) => {
    const ids = new Set<string>()
    const addrs = new Set<string>()
    c.groups.forEach((g, gi) =>
      g.replicas.forEach((r, ri) => {
        if (ids.has(r.id)) ctx.addIssue({ code: 'custom', message: `duplicate replica id ${r.id}`, path: ['groups', gi, 'replicas', ri, 'id'] })
        const addr = `${r.host}:${r.port}`
        if (addrs.has(addr)) ctx.addIssue({ code: 'custom', message: `duplicate address ${addr}`, path: ['groups', gi, 'replicas', ri, 'port'] })
        ids.add(r.id)
        addrs.add(addr)
      }),
    )
    if (c.heartbeatTicks >= c.electionTimeoutTicks) {
      ctx.addIssue({ code: 'custom', message: 'heartbeatTicks must be below electionTimeoutTicks', path: ['heartbeatTicks'] })
    }
  })

export type ClusterConfig = z.infer<typeof clusterConfigSchema>
export type ReplicaConfig = z.infer<typeof replicaSchema>
export type GroupConfig = z.infer<typeof groupSchema>

export class ConfigError extends Error {
  readonly code = 'BAD_CONFIG'
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/** Validates a parsed config; the error names the bad field (`groups[0].replicas[1].port: ...`). */
export function parseConfig(raw: unknown, source = 'config'): ClusterConfig {
  const r = clusterConfigSchema.safeParse(raw)
  if (r.success) return r.data
  const lines = r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`)
  throw new ConfigError(`${source} is invalid:\n  ${lines.join('\n  ')}`)
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(root)'
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('')
}

export function loadConfig(path: string): ClusterConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ConfigError(`cannot read config ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    throw new ConfigError(`config ${path} is not valid JSON: ${(e as Error).message}`)
  }
  return parseConfig(raw, path)
}

export interface GenerateOptions {
  /** Faults tolerated per group: each group gets 2f+1 replicas. */
  f: number
  groups: number
  protocol: 'raft' | 'paxos'
  basePort: number
  host: string
  /** Give replica i of each group its own loopback address 127.0.g.i (for partition tests with a firewall). */
  spreadHosts?: boolean
}

export function generateConfig(o: GenerateOptions): ClusterConfig {
  const replicas = 2 * o.f + 1
  let port = o.basePort
  const groups = Array.from({ length: o.groups }, (_, g) => ({
    id: `g${g + 1}`,
    protocol: o.protocol,
    replicas: Array.from({ length: replicas }, (_, r) => ({
      id: `g${g + 1}-r${r + 1}`,
      host: o.spreadHosts === true ? `127.0.${g + 1}.${r + 1}` : o.host,
      port: port++,
    })),
  }))
  return parseConfig({
    clusterId: `kv-${randomBytes(6).toString('hex')}`,
    token: randomBytes(16).toString('hex'),
    groups,
  })
}

/** The replica `id` and its group. */
export function findReplica(config: ClusterConfig, id: string): { group: GroupConfig; replica: ReplicaConfig } {
  for (const group of config.groups) {
    const replica = group.replicas.find((r) => r.id === id)
    if (replica !== undefined) return { group, replica }
  }
  const known = config.groups.flatMap((g) => g.replicas.map((r) => r.id)).join(', ')
  throw new ConfigError(`no replica "${id}" in the config (known: ${known})`)
}
