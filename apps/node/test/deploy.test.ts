/**
 * The deploy files (deploy/): the Dockerfile, the Kubernetes manifests and the systemd unit
 * are linted against the code they run. Every `kv` flag and KV_* variable they use is one that
 * the bundled `kv` itself lists in its help; the Dockerfile's COPY sources exist; the
 * StatefulSet's serviceName is the headless Service, ports and probes agree, and the
 * ConfigMap's cluster.json passes the cluster-spec schema with one replica per pod at the pod's
 * stable DNS name; the unit passes `systemd-analyze verify` where that exists. Where a Docker
 * engine answers, the image is built; else that one check is skipped, saying so.
 */
import { parseClusterSpec } from '@kv/protocol'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { repoRoot, runKv } from './harness.js'

const deployDir = path.join(repoRoot, 'deploy')
const read = (file: string) => readFileSync(path.join(deployDir, file), 'utf8')

/** The flags and KV_* variables `kv` and `kv node` accept, from their own help. */
const known = { flags: new Set<string>(), env: new Set<string>() }

beforeAll(async () => {
  for (const args of [['--help'], ['node', '--help']]) {
    const r = await runKv(args)
    expect(r.code, r.stderr).toBe(0)
    for (const m of r.stdout.matchAll(/(?:^|[\s,])(--[a-z][a-z0-9-]*)/gm)) known.flags.add(m[1]!)
    for (const m of r.stdout.matchAll(/env:\s+(KV_[A-Z_]+)/g)) known.env.add(m[1]!)
  }
  expect(known.flags).toContain('--id')
  expect(known.env).toContain('KV_ID')
}, 60_000)

/** The flags of a `kv node` command line (everything after `node`). */
function kvNodeFlags(commandLine: string): string[] {
  const at = commandLine.search(/(?:^|\s|\/)(?:kv|cli\.js)\s+node(?:\s|$)|^node(?:\s|$)/)
  expect(at, `no kv node in ${JSON.stringify(commandLine)}`).toBeGreaterThanOrEqual(0)
  return [...commandLine.slice(at).matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]!)
}

function expectRealFlags(where: string, commandLine: string): void {
  const flags = kvNodeFlags(commandLine)
  expect(flags.length, `${where}: no flags found in ${commandLine}`).toBeGreaterThan(0)
  for (const f of flags) expect(known.flags.has(f), `${where}: ${f} is not a flag of kv node (${[...known.flags].join(' ')})`).toBe(true)
}

/** The value after `flag` in a command line. */
function flagValue(commandLine: string, flag: string): string | undefined {
  return new RegExp(`${flag}[ =](\\S+)`).exec(commandLine)?.[1]
}

// ---------------------------------------------------------------------------------------------

interface Instruction {
  readonly op: string
  readonly args: string
}

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function dockerInstructions(text: string): Instruction[] {
  const joined = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ')
  return joined.split('\n').map((l) => l.trim()).filter((l) => l !== '').map((l) => {
    const [op, ...rest] = l.split(/\s+/)
    return { op: op!.toUpperCase(), args: rest.join(' ') }
  })
}

function jsonArray(args: string): string[] {
  const parsed: unknown = JSON.parse(args)
  expect(Array.isArray(parsed)).toBe(true)
  return parsed as string[]
}

/** Whether a Docker engine answers (the docker command alone cannot build). */
const dockerWorks = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 }).status === 0

describe('deploy/Dockerfile', () => {
  const instructions = dockerInstructions(read('Dockerfile'))
  const all = (op: string) => instructions.filter((i) => i.op === op)
  /** Instructions of the final stage (after the last FROM). */
  const lastFrom = instructions.map((i) => i.op).lastIndexOf('FROM')
  const final = instructions.slice(lastFrom)

  it('builds on Node 20 slim and runs the built kv bin as a non-root user with a data volume', () => {
    for (const from of all('FROM')) expect(from.args).toMatch(/^node:20-slim\b/)
    const user = final.filter((i) => i.op === 'USER').at(-1)?.args
    expect(user).toBeDefined()
    expect(['root', '0']).not.toContain(user)
    const volume = final.find((i) => i.op === 'VOLUME')
    expect(volume).toBeDefined()
    const volumes = jsonArray(volume!.args)
    const env = Object.fromEntries(final.filter((i) => i.op === 'ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])))
    expect(volumes).toContain(env.KV_DATA)
    // The entrypoint is the built bin that apps/node's package.json declares.
    const bin = (JSON.parse(readFileSync(path.join(repoRoot, 'apps/node/package.json'), 'utf8')) as { bin: { kv: string } }).bin.kv
    const entry = jsonArray(final.find((i) => i.op === 'ENTRYPOINT')!.args)
    expect(entry[0]).toBe('node')
    expect(entry[1]).toBe(path.posix.join('/opt/kv', bin))
    // The non-root user is the one the StatefulSet runs as.
    const uid = /--uid (\d+)/.exec(final.find((i) => i.op === 'RUN' && i.args.includes('useradd'))?.args ?? '')?.[1]
    expect(read('k8s/statefulset.yaml')).toContain(`runAsUser: ${uid}`)
  })

  it('runs kv node with real flags; its KV_* variables are kv\'s own; it exposes the ports it uses', () => {
    const cmd = jsonArray(final.find((i) => i.op === 'CMD')!.args)
    expect(cmd[0]).toBe('node')
    expectRealFlags('Dockerfile CMD', cmd.join(' '))
    for (const e of final.filter((i) => i.op === 'ENV')) {
      for (const m of e.args.matchAll(/(KV_[A-Z_]+)=/g)) expect(known.env.has(m[1]!), `${m[1]} is not read by kv`).toBe(true)
    }
    const exposed = final.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/))
    expect(exposed).toContain(flagValue(cmd.join(' '), '--metrics-listen')!.split(':')[1])
    expect(exposed).toContain('7001')
  })

  it('copies only sources that exist', () => {
    for (const copy of all('COPY').filter((i) => !i.args.startsWith('--from'))) {
      const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'))
      for (const source of parts.slice(0, -1)) expect(existsSync(path.join(repoRoot, source)), `COPY ${source}: not in the repository`).toBe(true)
    }
  })

  it.skipIf(!dockerWorks)('builds (a Docker engine answers here)', { timeout: 900_000 }, () => {
    execFileSync('docker', ['build', '-f', path.join(deployDir, 'Dockerfile'), '-t', 'kv:test', repoRoot], { stdio: 'inherit', timeout: 900_000 })
  })
  if (!dockerWorks) console.warn('deploy.test.ts: no Docker engine answers `docker info` here: the image build is skipped (the Dockerfile is linted only)')
})

// ---------------------------------------------------------------------------------------------

interface K8sObject {
  kind: string
  metadata: { name: string; labels?: Record<string, string> }
  spec?: any // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are checked field by field below
  data?: Record<string, string>
}

function manifests(): K8sObject[] {
  const dir = path.join(deployDir, 'k8s')
  return readdirSync(dir).filter((f) => f.endsWith('.yaml')).flatMap((f) => parseAllDocuments(readFileSync(path.join(dir, f), 'utf8')).map((doc) => {
    expect(doc.errors, `${f}: ${doc.errors.map((e) => e.message).join('; ')}`).toEqual([])
    return doc.toJS() as K8sObject
  }))
}

/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- YAML manifests are untyped */
describe('deploy/k8s', () => {
  const objects = manifests()
  const one = (kind: string) => {
    const found = objects.filter((o) => o.kind === kind)
    expect(found, `one ${kind}`).toHaveLength(1)
    return found[0]!
  }
  const sts = one('StatefulSet')
  const svc = one('Service')
  const cm = one('ConfigMap')
  const pod = sts.spec.template.spec
  const container = pod.containers[0]
  const commandLine: string = [...(container.command ?? []), ...(container.args ?? [])].join(' ')
  const portOf = (name: string): number => container.ports.find((p: { name: string }) => p.name === name).containerPort as number
  const mountOf = (volume: string): string => container.volumeMounts.find((m: { name: string }) => m.name === volume).mountPath as string

  it('the StatefulSet\'s serviceName is a headless Service selecting its pods, publishing not-ready addresses', () => {
    expect(sts.spec.serviceName).toBe(svc.metadata.name)
    expect(svc.spec.clusterIP).toBe('None')
    expect(svc.spec.publishNotReadyAddresses).toBe(true)
    const labels = sts.spec.template.metadata.labels
    expect(labels).toMatchObject(svc.spec.selector)
    expect(labels).toMatchObject(sts.spec.selector.matchLabels)
    for (const p of svc.spec.ports) expect(container.ports.map((c: { name: string }) => c.name)).toContain(p.targetPort)
  })

  it('runs kv node with real flags; probes /healthz and /readyz on the port --metrics-listen serves', () => {
    expectRealFlags('statefulset.yaml', commandLine)
    const metricsPort = Number(flagValue(commandLine, '--metrics-listen')!.split(':')[1])
    expect(flagValue(commandLine, '--metrics-listen')).toMatch(/^0\.0\.0\.0:/)
    expect(portOf('metrics')).toBe(metricsPort)
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz' })
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz' })
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      const port = probe.httpGet.port
      expect(typeof port === 'number' ? port : portOf(port)).toBe(metricsPort)
    }
    for (const e of container.env ?? []) if (/^KV_/.test(e.name)) expect(known.env.has(e.name), `${e.name} is not read by kv`).toBe(true)
    // --data is the volume claim's mount.
    expect(flagValue(commandLine, '--data')).toBe(mountOf(sts.spec.volumeClaimTemplates[0].metadata.name))
  })

  it('the ConfigMap\'s cluster.json is valid: one replica per pod at its stable DNS name and port, listening on 0.0.0.0, the id derived from the pod name', () => {
    const configPath = (container.env ?? []).find((e: { name: string }) => e.name === 'KV_CONFIG')?.value ?? flagValue(commandLine, '--config')
    const configVolume = pod.volumes.find((v: { configMap?: { name: string } }) => v.configMap?.name === cm.metadata.name)
    expect(configVolume).toBeDefined()
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === configVolume.name)
    expect(path.posix.join(mount.mountPath === configPath ? path.posix.dirname(configPath) : mount.mountPath, mount.subPath ?? '')).toBe(configPath)
    const spec = parseClusterSpec(JSON.parse(cm.data![path.posix.basename(configPath)]!), 'configmap.yaml cluster.json')
    expect(spec.controller).toBeUndefined()
    const replicas = spec.groups.flatMap((g) => g.replicas)
    expect(replicas).toHaveLength(sts.spec.replicas)
    // The id `kv node` gets in pod <sts>-<n>, computed by the container's own shell words.
    const idWord = /--id ("[^"]+"|\S+)/.exec(commandLine)![1]!
    replicas.forEach((r, n) => {
      expect(r.host).toBe(`${sts.metadata.name}-${n}.${svc.metadata.name}.default.svc.cluster.local`)
      expect(r.port).toBe(portOf('kv'))
      expect(r.listen).toBe(`0.0.0.0:${portOf('kv')}`)
      const id = execFileSync('sh', ['-c', `printf %s ${idWord}`], { env: { HOSTNAME: `${sts.metadata.name}-${n}`, PATH: process.env.PATH }, encoding: 'utf8' })
      expect(id).toBe(r.id)
    })
    // TLS files come from the Secret's mount.
    const tlsVolume = pod.volumes.find((v: { secret?: unknown }) => v.secret !== undefined)
    const tlsDir = mountOf(tlsVolume.name)
    for (const f of [spec.tls!.caFile, spec.tls!.certFile!, spec.tls!.keyFile!]) expect(path.posix.dirname(f)).toBe(tlsDir)
  })
})
/* eslint-enable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument */

// ---------------------------------------------------------------------------------------------

/** An ini-style unit: section → key → values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>()
  let current: Map<string, string[]> | null = null
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const section = /^\[(.+)\]$/.exec(line)
    if (section !== null) {
      current = new Map()
      sections.set(section[1]!, current)
      continue
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line)
    expect(kv, `unit line ${JSON.stringify(line)}`).not.toBeNull()
    expect(current, `${line} outside a section`).not.toBeNull()
    current!.set(kv![1]!, [...(current!.get(kv![1]!) ?? []), kv![2]!])
  }
  return sections
}

describe('deploy/systemd/kv@.service', () => {
  const text = read('systemd/kv@.service')
  const unit = parseUnit(text)
  const service = unit.get('Service')!
  const value = (key: string) => service.get(key)?.at(-1)

  it('runs kv node --config /etc/kv/cluster.json --id %i --data /var/lib/kv/%i with real flags, as a non-root user, restarted on failure', () => {
    const exec = value('ExecStart')!
    expect(exec).toMatch(/^\/\S+\/kv node /)
    expectRealFlags('kv@.service', exec)
    expect(flagValue(exec, '--config')).toBe('/etc/kv/cluster.json')
    expect(flagValue(exec, '--id')).toBe('%i')
    expect(flagValue(exec, '--data')).toBe(`/var/lib/${value('StateDirectory')}`)
    expect(['root', '0', undefined]).not.toContain(value('User'))
    expect(value('Restart')).toBe('on-failure')
    expect(value('RestartPreventExitStatus')).toBe('2')
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target'])
  })

  it('is hardened', () => {
    expect(Object.fromEntries(['NoNewPrivileges', 'ProtectSystem', 'ProtectHome', 'PrivateTmp', 'PrivateDevices', 'RestrictNamespaces', 'CapabilityBoundingSet'].map((k) => [k, value(k)]))).toEqual({
      NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', PrivateDevices: 'yes', RestrictNamespaces: 'yes', CapabilityBoundingSet: '',
    })
    expect(value('RestrictAddressFamilies')?.split(' ')).toEqual(expect.arrayContaining(['AF_INET', 'AF_INET6']))
  })

  const analyze = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0
  if (!analyze) console.warn('deploy.test.ts: no systemd-analyze here: the unit is linted only')
  it.skipIf(!analyze)('passes systemd-analyze verify (only the kv binary, not installed here, may be missing)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kv-unit-'))
    try {
      const instance = path.join(dir, 'kv@g1-r1.service')
      copyFileSync(path.join(deployDir, 'systemd/kv@.service'), instance)
      const r = spawnSync('systemd-analyze', ['verify', instance], { encoding: 'utf8', timeout: 30_000 })
      const problems = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '' && !/Command \S+\/kv is not executable/.test(l))
      expect(problems).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
