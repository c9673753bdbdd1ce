/**
 * `kv log --id R`: a replica's log as its write-ahead log holds it, one line per slot: index,
 * term (Raft) or ballot (Paxos), what the entry is (a no-op, a batch of client writes with each
 * client id and seq, a shard-map change, a migration step) and a short digest of the data. A
 * Paxos slot that holds nothing yet (a hole) is printed as one; the no-op a new leader wrote
 * into a slot that a dead leader skipped is how the Multi-Paxos test plan checks recovery.
 *
 * It reads the files read-only, so it works on a running replica (a record being appended at
 * that moment is reported as a torn tail, not cut).
 */
import type { Entry } from '@kv/consensus'
import { decodeRecord, type LogRecord } from '@kv/server'
import { readWalReadOnly } from '@kv/storage'
import { InvalidArgumentError, type Command } from 'commander'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { intArg } from './args.js'
import { CliError, exitCodes } from './exit-codes.js'

interface LogFlags {
  id?: string
  data?: string
  dir: string
  from: number
  limit: number
}

/** One slot of the log, as printed (and as `--json` writes it, one object per line). */
export interface LogLine {
  index: number
  /** Raft term or Paxos ballot of the entry; null for a hole. */
  term: number | null
  kind: 'noop' | 'hole' | 'membership' | LogRecord['kind'] | 'undecodable'
  /** Client writes: `clientId:seq op` each; migration steps: the step; maps: the epoch. */
  detail: string
  /** First 12 hex digits of the SHA-256 of the entry's data (empty for no-ops and holes). */
  digest: string
}

export function addLogCommand(program: Command): void {
  program
    .command('log')
    .description("print a replica's log entries: index, term or ballot, kind (no-op, writes with client id and seq, map change, migration step), data digest")
    .option('--id <replica>', 'the replica (its data folder is <dir>/<replica>, as kv cluster up lays it out)')
    .option('--data <folder>', "the replica's data folder (instead of --id)")
    .option('--dir <dir>', 'the data folder of a local cluster', '.kv-data')
    .option('--from <index>', 'first index to print', intArg(1, Number.MAX_SAFE_INTEGER), 1)
    .option('--limit <n>', 'print at most this many slots', intArg(1, 10_000_000), 1000)
    .action(async (o: LogFlags, cmd: Command) => {
      const { json } = cmd.optsWithGlobals<{ json?: boolean }>()
      if (o.id === undefined && o.data === undefined) throw new InvalidArgumentError('give --id <replica> (or --data <folder>)')
      const data = o.data ?? path.join(o.dir, o.id!)
      const walDir = path.join(data, 'wal')
      if (!existsSync(walDir)) throw new CliError('NO_LOG', `no write-ahead log in ${data} (is it a replica's data folder?)`, exitCodes.usage)
      const reading = await readWalReadOnly(walDir)
      const lines = logLines(reading.entries, o.from, o.limit)
      const first = reading.snapshotMeta === null ? 1 : reading.snapshotMeta.index + 1
      if (json === true) {
        for (const l of lines) console.log(JSON.stringify(l))
        return
      }
      console.log(`${data}: entries from ${first}${reading.snapshotMeta === null ? '' : ` (a snapshot covers up to ${reading.snapshotMeta.index})`}` +
        `, term/ballot ${reading.hardState?.term ?? 0}, commit ${reading.hardState?.commit ?? 0}` +
        (reading.tornTail === null ? '' : `; torn tail in ${reading.tornTail.segment} at ${reading.tornTail.offset} (${reading.tornTail.reason})`))
      console.log(['INDEX'.padStart(8), 'TERM'.padStart(6), 'KIND'.padEnd(16), 'DIGEST'.padEnd(12), 'DETAIL'].join('  '))
      for (const l of lines) {
        console.log([String(l.index).padStart(8), (l.term === null ? '-' : String(l.term)).padStart(6), l.kind.padEnd(16), l.digest.padEnd(12), l.detail].join('  '))
      }
    })
}

/** The slots from `from` on, holes between entries included, at most `limit`. */
export function logLines(entries: readonly Entry[], from: number, limit: number): LogLine[] {
  const lines: LogLine[] = []
  let expected: number | null = null
  for (const e of entries) {
    if (lines.length >= limit) break
    if (e.index < from) {
      expected = e.index + 1
      continue
    }
    // Slots missing between two entries (Paxos holes): shown, so a skipped slot is seen.
    for (let hole = Math.max(expected ?? e.index, from); hole < e.index && lines.length < limit; hole++) {
      lines.push({ index: hole, term: null, kind: 'hole', detail: 'nothing accepted here yet', digest: '' })
    }
    if (lines.length >= limit) break
    lines.push(describeEntry(e))
    expected = e.index + 1
  }
  return lines
}

function describeEntry(e: Entry): LogLine {
  if (e.type === 'noop') return { index: e.index, term: e.term, kind: 'noop', detail: 'no-op', digest: '' }
  if (e.type === 'membership') {
    const m = e.membership
    const detail = `${e.change.type} ${e.change.id}: voters ${m.voters.join(',')}; learners ${m.learners.join(',') || '-'}`
    return { index: e.index, term: e.term, kind: 'membership', detail, digest: '' }
  }
  const digest = createHash('sha256').update(e.data).digest('hex').slice(0, 12)
  let record: LogRecord
  try {
    record = decodeRecord(e.data)
  } catch (err) {
    return { index: e.index, term: e.term, kind: 'undecodable', detail: (err as Error).message, digest }
  }
  return { index: e.index, term: e.term, kind: record.kind, detail: recordDetail(record), digest }
}

function recordDetail(r: LogRecord): string {
  switch (r.kind) {
    case 'kv':
    case 'controller':
      return r.commands.map((c) => `${c.clientId}:${c.seq} ${c.op.op}`).join(', ')
    case 'controller-init':
      return `first shard map, epoch ${r.map.epoch}: ${r.map.groups.map((g) => g.id).join(', ')}`
    case 'migration': {
      const s = r.step
      switch (s.type) {
        case 'config':
          return `config: shard map epoch ${s.map.epoch} (${s.map.groups.map((g) => g.id).join(', ')})`
        case 'install':
          return `install epoch ${s.epoch} from ${s.from}: ${s.entries.length} keys, ${s.sessions.length} sessions${s.done ? ' (last chunk)' : ''}`
        case 'send-keys-request':
        case 'shard-ready':
        case 'learned-acked':
          return `${s.type} epoch ${s.epoch} from ${s.from}`
        case 'send-keys-response':
        case 'keys-learned':
          return `${s.type} epoch ${s.epoch} to ${s.to}`
      }
    }
  }
}
