import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createClient } from '@kv/client'
import { allGroups, initialShardMap, ShardRouter } from '@kv/protocol'
import { generateConfig, loadConfig, type ClusterConfig } from '../config.js'
import { agreement } from '../cluster.js'
import { configView, type ClusterView } from '../client-target.js'
import { collectStatus, formatTable, type ReplicaRow } from '../status.js'
import { checkTranscripts, type ParticipantSummary } from './participant.js'
import { roomKey } from './room.js'

export interface ScriptOptions {
  /** An existing cluster; without it the script starts its own in a temporary folder. */
  readonly config?: string
  readonly faults: number
  readonly groups: number
  readonly protocol: 'raft' | 'paxos'
  readonly basePort: number
  /** Passed to every replica of its own cluster as --drop-rate. */
  readonly drop?: string
  readonly clients: number
  readonly messages: number
  readonly intervalMs: number
  /** SIGKILL the room group's leader while the participants send (its own cluster only), and restart it. */
  readonly killLeader: boolean
  readonly room?: string
  readonly keep: boolean
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
/** The `kv` command this process runs as (the sources through tsx, a build, or a bundle). */
const kvArgs = () => [...process.execArgv, process.argv[1]!]

/**
 * `kv chat --script`: N participant processes (`kv chat --participant`) send continuously into
 * one room while the replicas drop messages (--drop) and, with --kill-leader, the room group's
 * leader is SIGKILLed and restarted; then it prints each participant's transcript digest and each
 * replica's applied index and state digest. Exit 0 when the transcripts are one, hold every
 * acknowledged message once, and the replicas agree.
 */
export async function runChatScript(o: ScriptOptions): Promise<number> {
  if (o.config !== undefined && (o.drop !== undefined || o.killLeader)) {
    throw new Error('--drop and --kill-leader need the script\'s own cluster (leave out --config)')
  }
  const dir = o.config === undefined ? mkdtempSync(path.join(os.tmpdir(), 'kv-chat-script-')) : null
  const nodes = new Map<string, ChildProcess>()
  let config: ClusterConfig
  let configPath: string
  if (dir === null) {
    configPath = o.config!
    config = loadConfig(configPath)
  } else {
    config = generateConfig({ f: o.faults, groups: o.groups, protocol: o.protocol, basePort: o.basePort, host: '127.0.0.1' })
    configPath = path.join(dir, 'cluster.json')
    writeFileSync(configPath, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 })
  }
  const startNode = (id: string) => {
    const log = openSync(path.join(dir!, `${id}.log`), 'a')
    const args = [...kvArgs(), '--config', configPath, 'node', '--id', id, '--data', path.join(dir!, id), '--wal-segment-mb', '4']
    if (o.drop !== undefined) args.push('--drop-rate', o.drop)
    try {
      nodes.set(id, spawn(process.execPath, args, { stdio: ['ignore', log, log] }))
    } finally {
      closeSync(log)
    }
  }
  const room = o.room ?? `script-${Date.now().toString(36)}`
  const view = configView(config, configPath)
  const client = createClient({ config, timeoutMs: 20_000 })
  try {
    if (dir !== null) {
      for (const g of allGroups(config)) for (const r of g.replicas) startNode(r.id)
      console.log(`cluster: ${allGroups(config).map((g) => `${g.id} (${g.replicas.length} ${g.protocol} replicas)`).join(', ')}${o.drop === undefined ? '' : `, --drop-rate ${o.drop}`}; data in ${dir}`)
    }
    await client.get(roomKey(room)) // waits out the first elections
    const roomGroup = await groupOfRoom(client, config, room)
    console.log(`room ${room} (key ${roomKey(room)}, group ${roomGroup}): ${o.clients} participants, ${o.messages} messages each`)
    const names = Array.from({ length: o.clients }, (_, i) => `p${i + 1}`)
    const runs = names.map((name) => participant(configPath, room, name, o))
    if (o.killLeader) {
      await sleep(Math.min(3000, (o.messages * o.intervalMs) / 3 + 500))
      const leader = (await collectStatus(view, false, 1000)).find((r) => r.group === roomGroup && r.role === 'leader')
      if (leader !== undefined) {
        nodes.get(leader.replica)?.kill('SIGKILL')
        console.log(`SIGKILLed ${leader.replica}, the leader of ${roomGroup}`)
        await sleep(1500)
        startNode(leader.replica)
        console.log(`restarted ${leader.replica}`)
      }
    }
    const results = await Promise.allSettled(runs)
    const summaries: ParticipantSummary[] = []
    for (const [i, r] of results.entries()) {
      if (r.status === 'fulfilled') {
        summaries.push(r.value)
        console.log(`${r.value.name}: ${r.value.acked.length} sent, ${r.value.unsure} unsure; transcript ${r.value.transcript.length} messages, digest ${r.value.digest}`)
      } else console.log(`${names[i]}: failed: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`)
    }
    const problems = summaries.length === names.length ? checkTranscripts(summaries) : ['a participant failed']
    console.log(problems.length === 0 ? 'transcripts agree: every acknowledged message once, in one order' : `transcripts: ${problems.slice(0, 10).join('; ')}`)
    const rows = await settledRows(view)
    console.log(formatTable(rows, true))
    const verdict = agreement(rows, allGroups(config).length)
    console.log(verdict)
    return problems.length === 0 && !verdict.includes('differ') ? 0 : 1
  } finally {
    await client.close()
    for (const child of nodes.values()) child.kill('SIGTERM')
    if (dir !== null) {
      await sleep(500)
      for (const child of nodes.values()) child.kill('SIGKILL')
      if (!o.keep) rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** The group holding the room's key under the current map. */
async function groupOfRoom(client: ReturnType<typeof createClient>, config: ClusterConfig, room: string): Promise<string> {
  if (config.controller === undefined) {
    return config.groups.length === 1 ? config.groups[0]!.id : new ShardRouter(initialShardMap(config)).groupOf(roomKey(room)).id
  }
  const map = await client.shardMap()
  if (map === null) throw new Error('the controller has no shard map')
  return new ShardRouter(map).groupOf(roomKey(room)).id
}

/** Each replica's status once the followers caught up with their leaders (bounded wait). */
async function settledRows(view: ClusterView): Promise<ReplicaRow[]> {
  let rows = await collectStatus(view, true, 2000)
  for (let i = 0; i < 40; i++) {
    const commit = new Map<string, number>()
    for (const r of rows) commit.set(r.group, Math.max(commit.get(r.group) ?? 0, r.commitIndex ?? 0))
    // A replica that does not answer is left out (agreement() names it).
    if (rows.every((r) => r.appliedIndex === null || r.appliedIndex === commit.get(r.group))) break
    await sleep(250)
    rows = await collectStatus(view, true, 2000)
  }
  return rows
}

/** One participant process; resolves with its summary line. */
function participant(configPath: string, room: string, name: string, o: ScriptOptions): Promise<ParticipantSummary> {
  const args = [
    ...kvArgs(), '--config', configPath, 'chat', '--participant', '--room', room, '--name', name,
    '--messages', String(o.messages), '--interval-ms', String(o.intervalMs), '--participants', String(o.clients),
  ]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => {
      const line = stdout.trim().split('\n').at(-1) ?? ''
      try {
        if (code !== 0) throw new Error(`exit ${code}`)
        resolve(JSON.parse(line) as ParticipantSummary)
      } catch (e) {
        reject(new Error(`${name}: ${e instanceof Error ? e.message : String(e)}; stderr: ${stderr.trim().split('\n').slice(-3).join(' | ')}`))
      }
    })
  })
}
