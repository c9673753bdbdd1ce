import { parseDropRate, type FaultConfig } from '@kv/transport-tcp'
import { InvalidArgumentError, Option, type Command } from 'commander'
import path from 'node:path'
import { loadConfig } from './config.js'
import { parseDropKinds } from './message-kinds.js'
import { kvVersion } from './version.js'

interface NodeFlags {
  id: string
  data?: string
  dropRate?: number
  dropKinds?: string[]
  delayMs?: number
  skipSlots?: number[]
  walSegmentMb: number
  logLevel: string
  exitWithStdin?: boolean
  metricsListen?: { host: string; port: number }
  tlsCert?: string
  tlsKey?: string
  tlsCa?: string
  join?: string
  advertise?: { host: string; port: number }
  listen?: { host: string; port: number }
}

/** `host:port` for --metrics-listen. */
function listenArg(v: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(v)
  const port = Number(m?.[2])
  if (m === null || !(port >= 1 && port <= 65535)) throw new InvalidArgumentError('expected host:port, e.g. 127.0.0.1:9101')
  return { host: m[1]!, port }
}

function dropRateArg(v: string): number {
  try {
    return parseDropRate(v)
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message)
  }
}

function kindsArg(v: string): string[] {
  try {
    return parseDropKinds(v)
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message)
  }
}

function slotsArg(v: string): number[] {
  const slots = v.split(',').map(Number)
  if (slots.some((s) => !Number.isInteger(s) || s < 1)) throw new InvalidArgumentError('expected slot numbers ≥ 1, e.g. 3,5')
  return slots
}

const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export function addNodeCommand(program: Command): void {
  program
    .command('node')
    .description('run one replica in the foreground')
    // Each also from the environment (containers: the id from the pod name, one data volume).
    .addOption(new Option('--id <id>', 'this replica\'s id in the config').env('KV_ID').makeOptionMandatory())
    .addOption(new Option('--data <dir>', 'data folder (default .kv-data/<id>)').env('KV_DATA'))
    .option('--drop-rate <rate>', 'drop outgoing messages: low (1%), medium (10%), high (30%) or a probability', dropRateArg)
    .option('--drop-kinds <kinds>', 'only drop these kinds: append,vote,client-request,client-reply', kindsArg)
    .option('--delay-ms <ms>', 'delay every outgoing message', (v) => {
      const n = Number(v)
      if (!(n >= 0 && n <= 10_000)) throw new InvalidArgumentError('expected 0..10000')
      return n
    })
    .option('--skip-slots <slots>', 'Paxos test option: leave these slots empty while leading', slotsArg)
    .option('--wal-segment-mb <mb>', 'size of each write-ahead log segment file (preallocated)', (v) => {
      const n = Number(v)
      if (!Number.isInteger(n) || n < 1 || n > 1024) throw new InvalidArgumentError('expected an integer from 1 to 1024')
      return n
    }, 64)
    .option('--log-level <level>', `one of ${levels.join(', ')}`, (v) => {
      if (!levels.includes(v)) throw new InvalidArgumentError(`expected one of ${levels.join(', ')}`)
      return v
    }, 'info')
    .addOption(new Option('--metrics-listen <host:port>', 'serve Prometheus /metrics, /healthz and /readyz over HTTP here').env('KV_METRICS_LISTEN').argParser(listenArg))
    .option('--tls-cert <file>', 'this replica\'s certificate (PEM), over the config\'s tls.certFile')
    .option('--tls-key <file>', 'this replica\'s private key (PEM), over the config\'s tls.keyFile')
    .option('--tls-ca <file>', 'the cluster CA certificate (PEM), over the config\'s tls.caFile')
    .addOption(new Option('--join <group>', 'a replica new to the config, being admitted to this group (kv member add); with --advertise').env('KV_JOIN'))
    .addOption(new Option('--advertise <host:port>', 'with --join: where peers and clients reach this replica (the address given to kv member add)').env('KV_ADVERTISE').argParser(listenArg))
    .addOption(new Option('--listen <host:port>', 'with --join: where to bind, when not the advertised address (NAT, containers)').argParser(listenArg))
    .option('--exit-with-stdin', 'shut down when standard input closes (kv cluster up: the parent is gone)')
    .action(async (o: NodeFlags, cmd: Command) => {
      const { config: configPath } = cmd.optsWithGlobals<{ config?: string }>()
      if (configPath === undefined) throw new InvalidArgumentError('--config <cluster.json> (or KV_CONFIG) is required: the cluster this replica belongs to')
      const config = loadConfig(configPath)
      if ((o.join === undefined) !== (o.advertise === undefined)) throw new InvalidArgumentError('--join <group> and --advertise <host:port> go together: a replica new to the config says which group admits it and where it is reached')
      if (o.listen !== undefined && o.join === undefined) throw new InvalidArgumentError('--listen goes with --join (a replica in the config binds its config\'s listen address)')
      // Loaded here, not at the top: the client commands start without the replica's code
      // (storage, LMDB, the cores, the logger).
      const [{ pino }, { startNode }] = await Promise.all([import('pino'), import('./runtime.js')])
      const logger = pino({ level: o.logLevel, base: { node: o.id } })
      const faults: FaultConfig = { dropRate: o.dropRate ?? 0, dropKinds: o.dropKinds ?? null, delayMs: o.delayMs ?? 0 }
      // The handlers go in before the replica starts: a SIGTERM while it opens its storage or
      // binds its port must still end in a clean close (found by pnpm soak: without them the
      // default action killed the process mid-start, exit 143).
      let node: { close(): Promise<void> } | null = null
      let stopping: string | null = null
      const stop = (signal: string) => {
        if (stopping !== null) return
        stopping = signal
        // Still starting: the start finishes first, then closes (below).
        if (node === null) return logger.info({ signal }, 'shutting down once started')
        logger.info({ signal }, 'shutting down')
        node.close().then(() => process.exit(0), (e: unknown) => {
          logger.error({ err: e }, 'shutdown failed')
          process.exit(1)
        })
      }
      process.once('SIGINT', () => stop('SIGINT'))
      process.once('SIGTERM', () => stop('SIGTERM'))
      if (o.exitWithStdin === true) {
        process.stdin.once('end', () => stop('stdin closed'))
        process.stdin.once('error', () => stop('stdin closed'))
        process.stdin.resume()
      }
      node = await startNode({
        config, id: o.id, dataDir: o.data ?? path.join('.kv-data', o.id), faults, skipSlots: o.skipSlots ?? [], logger,
        walSegmentBytes: o.walSegmentMb * 1024 * 1024, version: kvVersion,
        tlsFiles: { ...(o.tlsCert === undefined ? {} : { tlsCert: o.tlsCert }), ...(o.tlsKey === undefined ? {} : { tlsKey: o.tlsKey }), ...(o.tlsCa === undefined ? {} : { tlsCa: o.tlsCa }) },
        ...(o.metricsListen === undefined ? {} : { metricsListen: o.metricsListen }),
        ...(o.join === undefined || o.advertise === undefined ? {} : { join: { group: o.join, advertise: o.advertise, ...(o.listen === undefined ? {} : { listen: o.listen }) } }),
      })
      if (stopping !== null) {
        const signal = stopping
        stopping = null
        stop(signal)
      }
    })
}
