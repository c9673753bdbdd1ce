import { createClient, KvError, type KvClient } from '@kv/client'
import type { Command } from 'commander'
import { loadConfig } from './config.js'

export interface ClientFlags {
  config?: string
  json?: boolean
  timeout?: number
}

/** Runs one client call; prints the result (or the error) and sets the exit code. */
export async function withClient(flags: ClientFlags, run: (c: KvClient) => Promise<void>): Promise<void> {
  if (flags.config === undefined) throw new UsageError('--config <cluster.json> is required (make one with `kv config generate`)')
  const config = loadConfig(flags.config)
  const client = createClient({ config, timeoutMs: flags.timeout ?? 5000 })
  try {
    await run(client)
  } catch (e) {
    if (!(e instanceof KvError)) throw e
    if (flags.json === true) console.log(JSON.stringify({ error: e.code, message: e.message }))
    else console.error(`${e.code}: ${e.message}`)
    process.exitCode = e.code === 'BAD_REQUEST' ? 2 : 3
  } finally {
    await client.close()
  }
}

export class UsageError extends Error {
  readonly code = 'USAGE'
}

function print(flags: ClientFlags, json: unknown, text: string): void {
  console.log(flags.json === true ? JSON.stringify(json) : text)
}

/** `kv get|put|delete|append|batch-put|status`: talk to a running cluster. */
export function addClientCommands(program: Command): void {
  const flags = (cmd: Command): ClientFlags => cmd.optsWithGlobals<ClientFlags>()
  program
    .command('get <key>')
    .description('print the value of key; exit 1 with "not found" when there is none')
    .action(async (key: string, _o: unknown, cmd: Command) => {
      const f = flags(cmd)
      await withClient(f, async (c) => {
        const value = await c.getString(key)
        if (value === null) {
          if (f.json === true) console.log(JSON.stringify({ key, found: false }))
          else console.error('not found')
          process.exitCode = 1
          return
        }
        print(f, { key, found: true, value }, value)
      })
    })
  program
    .command('put <key> <value>')
    .description('set key to value')
    .action(async (key: string, value: string, _o: unknown, cmd: Command) => {
      const f = flags(cmd)
      await withClient(f, async (c) => {
        await c.put(key, value)
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
    .description('append value to key')
    .action(async (key: string, value: string, _o: unknown, cmd: Command) => {
      const f = flags(cmd)
      await withClient(f, async (c) => {
        await c.append(key, value)
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
    .command('status')
    .description('a table of groups, replicas, roles, terms, commit and applied indexes')
    .action(async (_o: unknown, cmd: Command) => {
      const f = flags(cmd)
      if (f.config === undefined) throw new UsageError('--config <cluster.json> is required')
      const { statusTable } = await import('./status.js')
      await statusTable(loadConfig(f.config), f.json === true)
    })
}
