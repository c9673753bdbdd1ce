#!/usr/bin/env node
/**
 * The `kv` command: one binary for running replicas and talking to them.
 *   kv config generate -f 1 -o cluster.json      a cluster description
 *   kv node --config cluster.json --id g1-r1     one replica, in the foreground
 *   kv cluster up                                a whole local cluster as child processes
 *   kv --config cluster.json put|get|delete|append|batch-put|status|scan|watch ...
 *   kv --config cluster.json chat --room R --name N   a terminal chat (kv chat --script: its scripted test)
 */
import { Command } from 'commander'
import { allGroups } from '@kv/protocol'
import { intArg, layoutOf, withLayoutOptions, type LayoutFlags } from './args.js'
import { readFileSync, writeFileSync } from 'node:fs'
import { addClientCommands, UsageError } from './client-commands.js'
import { addChatCommand } from './chat/command.js'
import { addClusterCommands } from './cluster.js'
import { ConfigError, generateConfig } from './config.js'
import { addNodeCommand } from './node-command.js'
import { addShardCommands } from './shard-commands.js'

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

const program = new Command('kv')
  .description('kv: a sharded, replicated, fault-tolerant key-value store')
  .version(version, '-v, --version', 'print the version of kv')
  .option('--config <file>', 'the cluster description (cluster.json)')
  .option('--json', 'machine-readable output')
  .option('--timeout <ms>', 'per-call timeout for client commands', intArg(1, 3_600_000))
  .showHelpAfterError()

withLayoutOptions(program.command('config').description('cluster descriptions').command('generate'))
  .description('write a cluster description: every replica id, host and port')
  .option('--host <host>', 'the address every replica listens on', '127.0.0.1')
  .option('--spread-hosts', 'give each replica its own loopback address 127.0.<group>.<replica> (for partition tests)')
  .requiredOption('-o, --out <file>', 'where to write it')
  .action((o: LayoutFlags & { host: string; spreadHosts?: boolean; out: string }) => {
    const config = generateConfig({ ...layoutOf(o), host: o.host, spreadHosts: o.spreadHosts === true })
    writeFileSync(o.out, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 })
    const n = allGroups(config).reduce((s, g) => s + g.replicas.length, 0)
    const ctl = config.controller === undefined ? '' : 'a controller group and '
    const spare = config.initialGroups === undefined ? '' : ` (${config.groups.length - config.initialGroups.length} spare, outside the first map)`
    console.log(`wrote ${o.out}: ${ctl}${config.groups.length} shard group(s)${spare}, ${n} replicas, ${o.protocol}`)
  })

addNodeCommand(program)
addClusterCommands(program)
addClientCommands(program)
addShardCommands(program)
addChatCommand(program)

program.parseAsync().catch((e: unknown) => {
  if (e instanceof ConfigError || e instanceof UsageError || isCodedError(e)) {
    console.error(`kv: ${e.message}`)
    process.exit(2)
  }
  console.error(e)
  process.exit(1)
})

/** Typed errors of our packages (WRONG_CLUSTER, PORT_IN_USE...) carry an upper-case code and a clear message. */
function isCodedError(e: unknown): e is Error {
  const code: unknown = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined
  return typeof code === 'string' && /^[A-Z_]+$/.test(code)
}
