import { allGroups, type ClusterSpec } from '@kv/protocol'
import { InvalidArgumentError, type Command } from 'commander'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { layoutOf, withLayoutOptions, type LayoutFlags } from './args.js'
import { generateConfig, loadConfig, type ClusterConfig } from './config.js'
import { writeSecretFile } from './secret-file.js'

/** `kv config generate | certs`: cluster descriptions and a development CA for them. */
export function addConfigCommands(program: Command): void {
  const config = program.command('config').description('cluster descriptions and their certificates')
  withLayoutOptions(config.command('generate'))
    .description('write a cluster description (0600: it holds the tokens): every replica id, host and port')
    .option('--host <host>', 'the address every replica listens on', '127.0.0.1')
    .option('--spread-hosts', 'give each replica its own loopback address 127.0.<group>.<replica> (for partition tests)')
    .option('--hosts <list>', 'one machine per replica: replica i of every group on host i (h1,h2,h3; 2f+1 of them), group k on --base-port + k', hostsArg)
    .option('--listen-all', 'every replica binds 0.0.0.0:<its port> and advertises its host (containers, NAT)')
    .requiredOption('-o, --out <file>', 'where to write it')
    .action((o: LayoutFlags & { host: string; spreadHosts?: boolean; hosts?: string[]; listenAll?: boolean; out: string }, cmd: Command) => {
      const layout = layoutOf(o)
      let f = layout.f
      if (o.hosts !== undefined) {
        if (o.spreadHosts === true) throw new InvalidArgumentError('--hosts and --spread-hosts do not go together')
        // Without -f, the machines decide the group size.
        if (cmd.getOptionValueSource('faults') === 'default') {
          if (o.hosts.length % 2 === 0) throw new InvalidArgumentError(`--hosts lists ${o.hosts.length} machines: a group needs an odd number (2f+1), one replica on each`)
          f = (o.hosts.length - 1) / 2
        } else if (o.hosts.length !== 2 * f + 1) {
          throw new InvalidArgumentError(`--hosts lists ${o.hosts.length} machines, but -f ${f} makes groups of ${2 * f + 1} replicas: give ${2 * f + 1} hosts`)
        }
      }
      const spec = generateConfig({
        ...layout, f, host: o.host, spreadHosts: o.spreadHosts === true, listenAll: o.listenAll === true,
        ...(o.hosts === undefined ? {} : { hosts: o.hosts }),
      })
      writeSecretFile(o.out, JSON.stringify(spec, null, 2) + '\n')
      console.log(`wrote ${o.out} (mode 0600): ${describe(spec, o.protocol)}`)
      if (o.hosts !== undefined) console.log(`next: kv config certs --config ${o.out} --out ${path.join(path.dirname(o.out), 'tls')}   (TLS for every connection)`)
    })

  config
    .command('certs')
    .description('make a development CA and a certificate per replica host (SAN = the host) plus a client certificate; adds a tls section to the config')
    .requiredOption('--out <dir>', 'where the certificates and keys go (keys 0600; an existing ca.crt/ca.key there is reused)')
    .option('--hosts <list>', 'the hosts to make certificates for (default: every replica host of --config)', hostsArg)
    .action(async (o: { out: string; hosts?: string[] }, cmd: Command) => {
      const { config: configPath } = cmd.optsWithGlobals<{ config?: string }>()
      if (configPath === undefined && o.hosts === undefined) throw new InvalidArgumentError('give --config cluster.json (its replica hosts) or --hosts h1,h2,...')
      const spec = configPath === undefined ? null : loadConfig(configPath)
      const hosts = o.hosts ?? [...new Set(allGroups(spec!).flatMap((g) => g.replicas.map((r) => r.host)))]
      const { writeDevPki } = await import('./certs.js')
      const pki = await writeDevPki(o.out, hosts)
      console.log(`${pki.caReused ? 'reused the CA' : 'made a CA'} in ${pki.caFile}; certificates for ${hosts.join(', ')} and a client certificate in ${o.out} (keys 0600)`)
      if (configPath !== undefined && spec !== null) addTlsSection(configPath, spec, o.out)
      console.log('copy to each machine: cluster.json, ca.crt, and that host\'s <host>.crt and <host>.key (keep ca.key off the replicas)')
    })
}

/** "h1,h2,h3" → hosts, each a name or an address. */
function hostsArg(v: string): string[] {
  const hosts = v.split(',').map((h) => h.trim())
  for (const h of hosts) {
    if (!/^[A-Za-z0-9._:-]+$/.test(h)) throw new InvalidArgumentError(`${JSON.stringify(h)} is not a host name or an IP address`)
  }
  const dup = hosts.find((h, i) => hosts.indexOf(h) !== i)
  if (dup !== undefined) throw new InvalidArgumentError(`${dup} is listed twice`)
  return hosts
}

/**
 * Points the config's tls section at the certificates (paths relative to the config's folder),
 * unless it has one already: then it is left as the operator wrote it.
 */
function addTlsSection(configPath: string, spec: ClusterConfig, outDir: string): void {
  if (spec.tls !== undefined) {
    console.log(`${configPath} has a tls section already: left as it is`)
    return
  }
  // Re-read the file as written (loadConfig made the tls paths absolute and filled defaults).
  const raw = JSON.parse(readText(configPath)) as Record<string, unknown>
  const rel = path.relative(path.dirname(path.resolve(configPath)), path.resolve(outDir)) || '.'
  const tls = { caFile: path.join(rel, 'ca.crt'), certFile: path.join(rel, '{host}.crt'), keyFile: path.join(rel, '{host}.key') }
  writeSecretFile(configPath, JSON.stringify({ ...raw, tls }, null, 2) + '\n')
  console.log(`added to ${configPath}: "tls": ${JSON.stringify(tls)}`)
}

function readText(file: string): string {
  if (!existsSync(file)) throw new InvalidArgumentError(`${file} does not exist`)
  return readFileSync(file, 'utf8')
}

function describe(config: ClusterSpec, protocol: string): string {
  const n = allGroups(config).reduce((s, g) => s + g.replicas.length, 0)
  const ctl = config.controller === undefined ? '' : 'a controller group and '
  const spare = config.initialGroups === undefined ? '' : ` (${config.groups.length - config.initialGroups.length} spare, outside the first map)`
  const machines = new Set(allGroups(config).flatMap((g) => g.replicas.map((r) => r.host))).size
  return `${ctl}${config.groups.length} shard group(s)${spare}, ${n} replicas on ${machines} host(s), ${protocol}, with a peer token`
}
