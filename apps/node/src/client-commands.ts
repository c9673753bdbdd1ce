import type { KvClient, KvWatchEvent, ScanRange } from '@kv/client'
import type { Command } from 'commander'
import { intArg } from './args.js'
import { openCluster, type ClusterView, type TargetFlags } from './client-target.js'
import { exitCodes, UsageError } from './exit-codes.js'

export { UsageError }

export interface ClientFlags extends TargetFlags {
  json?: boolean
  hex?: boolean
  timeout?: number
}

/**
 * Runs one client call against the cluster the flags name (client-target.ts: --endpoints or
 * --config). Errors go up to the command line's handler, which prints them in one line (JSON
 * with --json) and exits with their code (exit-codes.ts).
 */
export async function withClient(flags: ClientFlags, run: (c: KvClient, view: ClusterView) => Promise<void>): Promise<void> {
  const timeoutMs = flags.timeout ?? 5000
  const view = await openCluster(flags, timeoutMs)
  const client = view.client(timeoutMs)
  try {
    await run(client, view)
  } finally {
    await client.close()
  }
}

/** A value argument: "-" reads standard input to its end, bytes as they are. */
export async function valueArg(value: string): Promise<string | Uint8Array> {
  if (value !== '-') return value
  if (process.stdin.isTTY === true) throw new UsageError('value "-" reads standard input, which is a terminal: pipe the value in (printf ... | kv put KEY -)')
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return new Uint8Array(Buffer.concat(chunks))
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** A value for --json: the string when it is valid UTF-8 (and --hex is off), else its hex. */
function jsonValue(value: Uint8Array, hex: boolean): { value: string } | { valueHex: string } {
  if (!hex) {
    try {
      return { value: strictUtf8.decode(value) }
    } catch {
      // not text: fall through to hex
    }
  }
  return { valueHex: Buffer.from(value).toString('hex') }
}

function print(flags: ClientFlags, json: unknown, text: string): void {
  console.log(flags.json === true ? JSON.stringify(json) : text)
}

const decoder = new TextDecoder()

/** One watch event as `kv watch` prints it: `<revision> <type> <key>[ <value>]`, or a JSON line. */
export function formatEvent(e: KvWatchEvent, json: boolean, cursor: string | null): string {
  const value = e.value === undefined ? undefined : decoder.decode(e.value)
  if (json) return JSON.stringify({ type: e.type, key: e.key, ...(value === undefined ? {} : { value }), revision: e.revision, ...(cursor === null ? {} : { cursor }) })
  return `${e.revision} ${e.type} ${e.key}${value === undefined ? '' : ` ${value}`}`
}

/** `kv get|put|delete|append|batch-put|status|scan|watch`: talk to a running cluster. */
export function addClientCommands(program: Command): void {
  const flags = (cmd: Command): ClientFlags => cmd.optsWithGlobals<ClientFlags>()
  program
    .command('get <key>')
    .description('print the value of key; exit 1 with "not found" when there is none')
    .action(async (key: string, _o: unknown, cmd: Command) => {
      const f = flags(cmd)
      await withClient(f, async (c) => {
        const value = await c.get(key)
        if (value === null) {
          if (f.json === true) console.log(JSON.stringify({ key, found: false }))
          else console.error('not found')
          process.exitCode = exitCodes.notFound
          return
        }
        if (f.json === true) console.log(JSON.stringify({ key, found: true, ...jsonValue(value, f.hex === true) }))
        else if (f.hex === true) console.log(Buffer.from(value).toString('hex'))
        // The bytes as stored (kv get K > file keeps a binary value whole), then a newline.
        else process.stdout.write(Buffer.concat([value, Buffer.from('\n')]))
      })
    })
  program
    .command('put <key> <value>')
    .description('set key to value ("-": read the value from standard input)')
    .action(async (key: string, value: string, _o: unknown, cmd: Command) => {
      const f = flags(cmd)
      const bytes = await valueArg(value)
      await withClient(f, async (c) => {
        await c.put(key, bytes)
        print(f, { ok: true }, 'OK')
      })
    })
  program
    .command('delete <key>')
    .description('delete key (prints whether it existed)')
    .action(async (key: string, _o: unknown, cmd: Command) => {
      const f = flags(cmd)
      await withClient(f, async (c) => {
        const existed = await c.delete(key)
        print(f, { ok: true, existed }, existed ? 'deleted' : 'not found (nothing deleted)')
      })
    })
  program
    .command('append <key> <value>')
    .description('append value to key ("-": read the value from standard input)')
    .action(async (key: string, value: string, _o: unknown, cmd: Command) => {
      const f = flags(cmd)
      const bytes = await valueArg(value)
      await withClient(f, async (c) => {
        await c.append(key, bytes)
        print(f, { ok: true }, 'OK')
      })
    })
  program
    .command('batch-put <pairs...>')
    .description('set several keys at once, atomically: batch-put K1 V1 K2 V2 ...')
    .action(async (pairs: string[], _o: unknown, cmd: Command) => {
      const f = flags(cmd)
      if (pairs.length % 2 !== 0) throw new UsageError('batch-put takes key/value pairs: K1 V1 K2 V2 ...')
      const entries: Array<[string, string]> = []
      for (let i = 0; i < pairs.length; i += 2) entries.push([pairs[i]!, pairs[i + 1]!])
      await withClient(f, async (c) => {
        await c.batchPut(entries)
        print(f, { ok: true, count: entries.length }, `OK (${entries.length} keys)`)
      })
    })
  program
    .command('scan')
    .description('print the keys of a range in key order, across every shard group: key<TAB>value per line')
    .option('--prefix <p>', 'the keys starting with p')
    .option('--start <a>', 'from key a (inclusive)')
    .option('--end <b>', 'to key b (exclusive)')
    .option('--limit <n>', 'print at most n keys (default: every key in the range)', intArg(1, Number.MAX_SAFE_INTEGER))
    .option('--reverse', 'descending key order')
    .action(async (o: { prefix?: string; start?: string; end?: string; limit?: number; reverse?: boolean }, cmd: Command) => {
      const f = flags(cmd)
      if (o.prefix !== undefined && (o.start !== undefined || o.end !== undefined)) throw new UsageError('scan takes --prefix or --start/--end, not both')
      const range: ScanRange = o.prefix !== undefined ? { prefix: o.prefix } : { ...(o.start === undefined ? {} : { start: o.start }), ...(o.end === undefined ? {} : { end: o.end }) }
      await withClient(f, async (c) => {
        let printed = 0
        let continuation: string | null | undefined
        // Bounded by the range's keys and --limit: each page moves past the last.
        while (continuation !== null && (o.limit === undefined || printed < o.limit)) {
          const limit = Math.min(1000, o.limit === undefined ? 1000 : o.limit - printed)
          const page = await c.scan(range, { limit, reverse: o.reverse === true, ...(continuation === undefined ? {} : { continuation }) })
          for (const { key, value } of page.entries) console.log(f.json === true ? JSON.stringify({ key, value: decoder.decode(value) }) : `${key}\t${decoder.decode(value)}`)
          printed += page.entries.length
          continuation = page.continuation
        }
        if (f.json !== true) console.error(`${printed} key(s)`)
      })
    })
  program
    .command('watch [key]')
    .description('print every change of key (or of every key with --prefix) as it commits, until Ctrl-C: "<revision> <type> <key> <value>"')
    .option('--prefix <p>', 'watch every key starting with p')
    .option('--from-revision <r>', 'start after revision r ("<epoch>.<index>"; for --prefix also a cursor that --json printed); default: from now')
    .option('--count <n>', 'exit after n events', intArg(1, Number.MAX_SAFE_INTEGER))
    .action(async (key: string | undefined, o: { prefix?: string; fromRevision?: string; count?: number }, cmd: Command) => {
      const f = flags(cmd)
      if ((key === undefined) === (o.prefix === undefined)) throw new UsageError('watch takes a key or --prefix <p> (one of them)')
      await withClient(f, async (c) => {
        const stop = new AbortController()
        const onSignal = () => stop.abort()
        process.once('SIGINT', onSignal)
        process.once('SIGTERM', onSignal)
        try {
          const watch = c.watch(key ?? { prefix: o.prefix! }, { signal: stop.signal, ...(o.fromRevision === undefined ? {} : { fromRevision: o.fromRevision }) })
          let n = 0
          if (f.json !== true) console.error(`watching ${key === undefined ? `prefix ${JSON.stringify(o.prefix)}` : JSON.stringify(key)} (Ctrl-C stops)`)
          for await (const e of watch) {
            console.log(formatEvent(e, f.json === true, o.prefix === undefined ? null : watch.cursor))
            if (o.count !== undefined && ++n >= o.count) break
          }
        } finally {
          process.off('SIGINT', onSignal)
          process.off('SIGTERM', onSignal)
        }
      })
    })
  program
    .command('status')
    .description('a table of groups, replicas, roles, terms, indexes, epochs, keys, versions, uptimes and data sizes; exit 3 when a group has no leader')
    .action(async (_o: unknown, cmd: Command) => {
      const f = flags(cmd)
      const { statusTable } = await import('./status.js')
      const view = await openCluster(f, f.timeout ?? 5000)
      // A group with no leader serves nothing: say so in the exit code, as for an unavailable call.
      if (!(await statusTable(view, f.json === true))) process.exitCode = exitCodes.unavailable
    })
}
