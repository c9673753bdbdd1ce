/**
 * `kv config generate` and `kv config certs` as a user meets them: the layout over several
 * machines, the files' modes, the certificates' names, and clear errors for bad flags. No
 * replica runs here (the TLS cluster in network namespaces is netns.test.ts).
 */
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { runKv, type KvRun } from './harness.js'

let dir = ''
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'kv-ptest-config-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const show = (r: KvRun) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`
const mode = (file: string) => statSync(file).mode & 0o777

describe.concurrent('kv config', () => {
  it('generate --hosts: replica i of every group on host i, one port per group, 0.0.0.0 listeners, a peer token, written 0600', async () => {
    const out = path.join(dir, 'hosts.json')
    const r = await runKv(['config', 'generate', '--hosts', 'h1,h2,10.0.0.3', '--groups', '2', '--base-port', '7101', '--listen-all', '-o', out])
    expect(r.code, show(r)).toBe(0)
    expect(r.stdout).toMatch(/wrote .*hosts\.json \(mode 0600\): a controller group and 2 shard group\(s\), 9 replicas on 3 host\(s\)/)
    expect(mode(out)).toBe(0o600)
    const c = loadConfig(out)
    expect(c.groups[0]!.replicas.map((x) => [x.id, x.host, x.port, x.listen])).toEqual([
      ['g1-r1', 'h1', 7102, '0.0.0.0:7102'], ['g1-r2', 'h2', 7102, '0.0.0.0:7102'], ['g1-r3', '10.0.0.3', 7102, '0.0.0.0:7102'],
    ])
    expect(c.peerToken).toMatch(/^[0-9a-f]{48}$/)
    expect(c.peerToken).not.toBe(c.token)
  })

  it.each([
    [['--hosts', 'h1,h2'], /--hosts lists 2 machines: a group needs an odd number/],
    [['--hosts', 'h1,h2,h3', '-f', '2'], /-f 2 makes groups of 5 replicas: give 5 hosts/],
    [['--hosts', 'h1,h1,h2'], /h1 is listed twice/],
    [['--hosts', 'h1,h 2,h3'], /"h 2" is not a host name/],
  ])('generate %j is a usage error (exit 2) saying why', async (flags, message) => {
    const r = await runKv(['config', 'generate', ...flags, '-o', path.join(dir, 'bad.json')])
    expect(r.code, show(r)).toBe(2)
    expect(r.stderr).toMatch(message)
  })

  it('certs: a CA, one certificate per replica host whose SAN is that host, a client certificate, keys 0600; the config gets a tls section', async () => {
    const config = path.join(dir, 'certs.json')
    expect((await runKv(['config', 'generate', '--hosts', 'h1,h2,10.0.0.3', '-o', config])).code).toBe(0)
    const tlsDir = path.join(dir, 'tls')
    const r = await runKv(['--config', config, 'config', 'certs', '--out', tlsDir])
    expect(r.code, show(r)).toBe(0)
    for (const [host, san] of [['h1', 'DNS:h1'], ['h2', 'DNS:h2'], ['10.0.0.3', 'IP Address:10.0.0.3']] as const) {
      const cert = new X509Certificate(readFileSync(path.join(tlsDir, `${host}.crt`)))
      expect(cert.subjectAltName).toBe(san)
      expect(cert.verify(new X509Certificate(readFileSync(path.join(tlsDir, 'ca.crt'))).publicKey)).toBe(true)
      expect(mode(path.join(tlsDir, `${host}.key`))).toBe(0o600)
    }
    expect(mode(path.join(tlsDir, 'ca.key'))).toBe(0o600)
    expect(mode(path.join(tlsDir, 'client.key'))).toBe(0o600)
    expect(mode(config)).toBe(0o600)
    const raw = JSON.parse(readFileSync(config, 'utf8')) as { tls: unknown }
    expect(raw.tls).toEqual({ caFile: 'tls/ca.crt', certFile: 'tls/{host}.crt', keyFile: 'tls/{host}.key' })
    // Read back, the paths are the config folder's.
    expect(loadConfig(config).tls?.caFile).toBe(path.join(tlsDir, 'ca.crt'))

    // Again with a new host: the CA is reused, so old and new certificates share one trust.
    const again = await runKv(['config', 'certs', '--hosts', 'h4', '--out', tlsDir])
    expect(again.stdout).toMatch(/^reused the CA/)
    expect(new X509Certificate(readFileSync(path.join(tlsDir, 'h4.crt'))).checkIssued(new X509Certificate(readFileSync(path.join(tlsDir, 'ca.crt'))))).toBe(true)
  })

  it('certs without --config or --hosts is a usage error', async () => {
    const r = await runKv(['config', 'certs', '--out', path.join(dir, 'nowhere')])
    expect(r.code, show(r)).toBe(2)
    expect(r.stderr).toMatch(/give --config cluster\.json .* or --hosts/)
  })

  it('kv node refuses a certificate that is not for its host, or flags for TLS in a cluster without it, before opening anything', async () => {
    const config = path.join(dir, 'node.json')
    expect((await runKv(['config', 'generate', '--hosts', '127.0.0.21,127.0.0.22,127.0.0.23', '--base-port', '21990', '-o', config])).code).toBe(0)
    const tlsDir = path.join(dir, 'node-tls')
    expect((await runKv(['--config', config, 'config', 'certs', '--out', tlsDir])).code).toBe(0)
    const wrong = await runKv(['--config', config, 'node', '--id', 'g1-r1', '--data', path.join(dir, 'd1'), '--tls-cert', path.join(tlsDir, '127.0.0.22.crt'), '--tls-key', path.join(tlsDir, '127.0.0.22.key')])
    expect(wrong.code, show(wrong)).toBe(2)
    expect(wrong.stderr).toMatch(/TLS_NAME_MISMATCH: the certificate .*127\.0\.0\.22\.crt is for IP Address:127\.0\.0\.22, not for this replica's advertised host 127\.0\.0\.21/)
    const plain = path.join(dir, 'plain.json')
    const spec = JSON.parse(readFileSync(config, 'utf8')) as Record<string, unknown>
    delete spec.tls
    writeFileSync(plain, JSON.stringify(spec))
    const flags = await runKv(['--config', plain, 'node', '--id', 'g1-r1', '--data', path.join(dir, 'd2'), '--tls-cert', 'x.crt'])
    expect(flags.code, show(flags)).toBe(2)
    expect(flags.stderr).toMatch(/--tls-cert given, but the cluster config has no tls section/)
  })
})
