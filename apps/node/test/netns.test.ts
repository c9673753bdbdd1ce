/**
 * Three replicas on three "machines" — network namespaces with one address each
 * (10.77.0.1..3, netns.ts) — with TLS on every connection, as `kv config generate --hosts`
 * and `kv config certs` lay them out: each replica advertises its machine's address, binds
 * 0.0.0.0:7001, presents a certificate whose SAN is its address, and clients (in the root
 * namespace, from 10.77.0.254) must present the client certificate.
 *
 * Checked: clients work through TLS; a plain-TCP client is refused (and the replica says
 * why); a client credential (client token, even with the CA-signed client certificate)
 * cannot join as a peer, and the replica logs why; one replica cut off by iptables inside its
 * namespace: the majority elects and serves, the cut-off one acknowledges nothing; healed,
 * all three converge; the history is linearizable.
 *
 * Needs root and `ip netns` (skipped, saying so, only when namespaces are unavailable).
 */
import { HistoryRecorder } from '@kv/sim'
import { FrameDecoder, FrameEncoder, type TransportMessage } from '@kv/transport-tcp'
import { createClient } from '@kv/client'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeDevPki } from '../src/certs.js'
import { attempt, expectLinearizable, printLogsOnFailure, ProcessCluster, sleep, waitFor } from './harness.js'
import { clientAddress, Machines, netnsUnavailable } from './netns.js'
import { runWorkload } from './workload.js'

const unavailable = netnsUnavailable()
if (unavailable !== null) console.warn(`netns.test.ts skipped: ${unavailable}`)

const port = 7001
let machines: Machines | null = null
let cluster: ProcessCluster | null = null
let tlsDir = ''
const c = () => cluster!
const m = () => machines!
printLogsOnFailure(() => cluster)

beforeAll(async () => {
  if (unavailable !== null) return
  machines = await Machines.create(3)
  const hosts = [1, 2, 3].map((i) => m().address(i))
  tlsDir = mkdtempSync(path.join(os.tmpdir(), 'kv-ptest-netns-tls-'))
  const pki = await writeDevPki(tlsDir, hosts)
  cluster = ProcessCluster.start({
    name: 'netns',
    basePort: port,
    // What `kv config generate --hosts 10.77.0.1,10.77.0.2,10.77.0.3 --listen-all` and
    // `kv config certs` write, with client certificates required.
    configure: (config) => ({
      ...config,
      groups: config.groups.map((g) => ({ ...g, replicas: g.replicas.map((r, i) => ({ ...r, host: hosts[i]!, port, listen: `0.0.0.0:${port}` })) })),
      tls: {
        caFile: pki.caFile, certFile: path.join(tlsDir, '{host}.crt'), keyFile: path.join(tlsDir, '{host}.key'),
        requireClientCert: true, clientCertFile: pki.client.certFile, clientKeyFile: pki.client.keyFile,
      },
    }),
    // Replica g1-r<i> runs on machine i.
    spawnPrefix: (id) => m().exec(Number(/-r(\d+)$/.exec(id)?.[1])),
  })
  await c().waitForLeader({ timeoutMs: 30_000 })
}, 60_000)

afterAll(async () => {
  // Processes first: a namespace lives on while a process runs in it.
  await cluster?.stop()
  machines?.close()
  if (tlsDir !== '') rmSync(tlsDir, { recursive: true, force: true })
})

/** A replica's log line (parsed) that matches every pattern, once there (pino writes asynchronously). */
async function logLine(id: string, ...patterns: RegExp[]): Promise<Record<string, unknown>> {
  const line = await waitFor(`a line of ${id}'s log to match ${patterns.map(String).join(' and ')}`, () => {
    const found = readFileSync(c().logPath(id), 'utf8').split('\n').find((l) => patterns.every((p) => p.test(l)))
    return Promise.resolve(found)
  }, 5000, 100)
  return JSON.parse(line) as Record<string, unknown>
}

/** Says `hello` over TLS (with the client certificate) and returns the replica's answer. */
async function tlsHello(address: string, hello: Record<string, unknown> & { type: 'hello' }): Promise<TransportMessage> {
  const tls = c().config.tls!
  const socket = tlsConnect({ host: address, port, ca: readFileSync(tls.caFile), cert: readFileSync(tls.clientCertFile!), key: readFileSync(tls.clientKeyFile!) })
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve)
      socket.once('error', reject)
    })
    socket.write(new FrameEncoder().encodeOne(hello))
    const decoder = new FrameDecoder()
    return await new Promise<TransportMessage>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        const [first] = decoder.decode(chunk)
        if (first !== undefined) resolve(first)
      })
      socket.once('close', () => reject(new Error('closed without an answer')))
    })
  } finally {
    socket.destroy()
  }
}

describe.skipIf(unavailable !== null)('three machines in network namespaces, TLS on', () => {
  it('serves clients through TLS from the root namespace; kv status sees every replica at its advertised address', async () => {
    const kv = c().client({ timeoutMs: 5000 })
    await kv.put('ns-hello', 'world')
    expect(await kv.getString('ns-hello')).toBe('world')
    for (const id of c().ids) {
      const s = await c().status(id, kv, 2000)
      expect(s?.replicaId).toBe(id)
    }
    expect(await logLine(c().id(0), /"replica serving"/)).toMatchObject({ advertised: `${m().address(1)}:${port}`, listen: `0.0.0.0:${port}`, peerToken: true })
  })

  it('refuses a plain-TCP client: the client is told the replica may require TLS, the replica logs why', async () => {
    const plain = createClient({ config: c().config, tls: false, timeoutMs: 2000 })
    try {
      const err = await plain.put('ns-plain', 'x').catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'UNAVAILABLE' })
      expect((err as Error).message).toMatch(/a replica that requires TLS does this to a plain-TCP client/)
    } finally {
      await plain.close()
    }
    expect(await logLine(c().id(0), /"msg":"TLS handshake failed"/, /plain-TCP client/)).toMatchObject({ remoteAddress: clientAddress })
  })

  it('a client credential cannot join as a peer: a peer hello with the client token (and the CA-signed client certificate) is refused, the replica logs why; the client certificate cannot claim a replica id even with the peer token', async () => {
    const config = c().config
    const target = c().id(1)
    const answer = await tlsHello(m().address(2), { type: 'hello', clusterId: config.clusterId, token: config.token, role: 'peer', nodeId: c().id(0) })
    expect(answer).toMatchObject({ type: 'refused', reason: expect.stringMatching(/client token: a client credential cannot join as a replica/) })
    const logged = await logLine(target, /"msg":"handshake refused"/, /client credential cannot join/)
    expect(logged).toMatchObject({ role: 'peer', remoteNodeId: c().id(0), remoteAddress: clientAddress })
    // Even with the peer token, the client certificate cannot speak for a replica: it is not
    // for that replica's host.
    const impostor = await tlsHello(m().address(2), { type: 'hello', clusterId: config.clusterId, token: config.peerToken!, role: 'peer', nodeId: c().id(0) })
    expect(impostor).toMatchObject({ type: 'refused', reason: expect.stringMatching(new RegExp(`is not for this replica's host ${m().address(1).replaceAll('.', '\\.')}$`)) })
    // The same hello as a client is welcome: the credential is right for its own role.
    expect(await tlsHello(m().address(2), { type: 'hello', clusterId: config.clusterId, token: config.token, role: 'client' })).toMatchObject({ type: 'welcome', nodeId: target })
  })

  it('one replica cut off inside its namespace: the majority elects and serves, the cut-off one acknowledges nothing; healed, all converge; linearizable', { timeout: 60_000 }, async () => {
    const history = new HistoryRecorder()
    const keys = ['ns-a', 'ns-b', 'ns-c']
    let done = false
    const throughout = runWorkload(c(), history, { clients: 3, keys, opsPerClient: 2000, durationMs: 20_000, timeoutMs: 3000, pauseMs: 5, until: () => done })
    await sleep(800)
    const oldLeader = await c().waitForLeader()
    const cutOff = c().ids.indexOf(oldLeader) + 1
    m().cut(cutOff, [1, 2, 3].filter((i) => i !== cutOff))

    const newLeader = await c().waitForLeader({ exclude: [oldLeader], timeoutMs: 15_000 })
    expect(newLeader).not.toBe(oldLeader)
    const pinned = c().recordingClient(history, 30, { pinnedTo: oldLeader, timeoutMs: 1000 })
    const [majority, cutOffCalls] = await Promise.all([
      runWorkload(c(), history, { clients: 2, keys, opsPerClient: 15, durationMs: 2500, timeoutMs: 3000, firstClientId: 10 }),
      Promise.all([attempt(pinned.put('ns-a', 'cut-off')), attempt(pinned.get('ns-b'))]),
    ])
    expect(majority.ok).toBeGreaterThan(0)
    expect(cutOffCalls.filter((r) => r.ok)).toEqual([])

    m().heal(cutOff)
    await sleep(1000)
    done = true
    const all = await throughout
    expect(all.ok).toBeGreaterThan(0)
    const applied = await c().waitForConvergence(c().ids, 20_000)
    console.log(`netns partition: ${oldLeader} cut off, ${newLeader} elected; ${all.ok + majority.ok} calls answered, ${all.failed} failed; converged at index ${applied}`)
    const reader = c().recordingClient(history, 40)
    for (const key of keys) await reader.get(key)
    expectLinearizable(history)
  })
})
