#!/usr/bin/env node
/**
 * The `kv` command: one binary for running replicas and talking to them.
 *   kv config generate -f 1 -o cluster.json      a cluster description (--hosts h1,h2,h3: one machine per replica)
 *   kv config certs --config cluster.json --out tls   a dev CA and a certificate per host (TLS)
 *   kv node --config cluster.json --id g1-r1     one replica, in the foreground
 *   kv cluster up                                a whole local cluster as child processes
 *   kv --config cluster.json put|get|delete|append|batch-put|status|scan|watch ...
 *   kv --endpoints h1:7001,h2:7001 --token T get k   the same without the config: the replicas say the rest
 *   kv --config cluster.json chat --room R --name N   a terminal chat (kv chat --script: its scripted test)
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { intArg } from './args.js'
import { addClientCommands, UsageError } from './client-commands.js'
import { CliError, exitCodeOf, exitCodes } from './exit-codes.js'
import { addChatCommand } from './chat/command.js'
import { addClusterCommands } from './cluster.js'
import { ConfigError } from './config.js'
import { addConfigCommands } from './config-commands.js'
import { addLogCommand } from './log-command.js'
import { addNodeCommand } from './node-command.js'
import { addShardCommands } from './shard-commands.js'
import { addMemberCommands } from './member-commands.js'
import { kvVersion } from './version.js'


const program = new Command('kv')
  .description('kv: a sharded, replicated, fault-tolerant key-value store')
  .version(kvVersion, '-v, --version', 'print the version of kv')
  .addOption(new Option('--config <file>', 'the cluster description (cluster.json)').env('KV_CONFIG'))
  .addOption(new Option('--endpoints <list>', 'client commands: replicas to ask for the cluster\'s layout, host:port,host:port,... (any group\'s), instead of --config').env('KV_ENDPOINTS'))
  .addOption(new Option('--token <token>', 'client commands: the client token ("token" in cluster.json); needed with --endpoints, else over the config\'s').env('KV_TOKEN'))
  .addOption(new Option('--cacert <file>', 'client commands, TLS: the cluster CA certificate (PEM) to verify replicas with (over the config\'s tls.caFile)').env('KV_CACERT'))
  .addOption(new Option('--cert <file>', 'client commands, TLS: the client certificate (PEM) to present, when the cluster requires one (with --key and --cacert)').env('KV_CERT'))
  .addOption(new Option('--key <file>', 'client commands, TLS: the client certificate\'s private key (PEM)').env('KV_KEY'))
  .option('--json', 'machine-readable output, errors included (one JSON object per line on stdout)')
  .option('--hex', 'print values as hexadecimal (binary values)')
  .option('--timeout <ms>', 'per-call timeout for client commands', intArg(1, 3_600_000))
  .addHelpText('after', `
Client commands (get, put, delete, append, batch-put, scan, watch, status, shard, chat) find the
cluster by, in order: --endpoints, KV_ENDPOINTS (with --token or KV_TOKEN), --config, KV_CONFIG.
With --endpoints, the first replica that answers tells the rest (groups, replicas, TLS on or off);
a TLS cluster needs --cacert. kv node, kv cluster and kv config read --config only.`)
  .showHelpAfterError('(add --help for usage)')
  // Usage errors come back here as exceptions, so that they exit 2 like every other usage error.
  .exitOverride()

addConfigCommands(program)
addNodeCommand(program)
addClusterCommands(program)
addClientCommands(program)
addShardCommands(program)
addMemberCommands(program)
addLogCommand(program)
addChatCommand(program)

program.parseAsync().catch((e: unknown) => {
  const failure = describeFailure(e)
  if (failure === null) return // --help or --version: commander printed it
  const json = process.argv.includes('--json')
  if (json) console.log(JSON.stringify({ error: failure.code, message: failure.message, exitCode: failure.exitCode }))
  else if (!failure.printed) console.error(`kv: ${failure.showCode === true ? `${failure.code}: ` : ''}${failure.message}`)
  if (process.env.KV_DEBUG !== undefined && e instanceof Error) console.error(e.stack)
  process.exitCode = failure.exitCode
})

/**
 * What went wrong, as one line and an exit code (exit-codes.ts). Stack traces are for bugs:
 * only `KV_DEBUG=1` prints them.
 */
function describeFailure(e: unknown): { code: string; message: string; exitCode: number; printed: boolean; showCode?: boolean } | null {
  // Thrown by an action (commander reports the ones its own parsing throws, below).
  if (e instanceof InvalidArgumentError || e instanceof ConfigError || e instanceof UsageError) {
    return { code: 'USAGE', message: e.message, exitCode: exitCodes.usage, printed: false }
  }
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return null
    // commander printed "error: ..." already.
    return { code: 'USAGE', message: e.message.replace(/^error: /, ''), exitCode: exitCodes.usage, printed: true }
  }
  if (e instanceof CliError) return { code: e.code, message: e.message, exitCode: e.exitCode, printed: false }
  if (isCodedError(e)) return { code: e.code, message: e.message, exitCode: exitCodeOf(e.code), printed: false, showCode: true }
  const message = e instanceof Error ? e.message : String(e)
  return { code: 'ERROR', message: `${message} (KV_DEBUG=1 prints the stack)`, exitCode: exitCodes.failure, printed: false }
}

/** Typed errors of our packages (TIMEOUT, WRONG_CLUSTER, PORT_IN_USE...) carry an upper-case code and a clear message. */
function isCodedError(e: unknown): e is Error & { code: string } {
  const code: unknown = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined
  return typeof code === 'string' && /^[A-Z_]+$/.test(code)
}
