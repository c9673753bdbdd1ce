import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { DropOldestQueue } from './bounded-queue.js'
import { ClientConnection } from './client-connection.js'
import { dial } from './dial.js'
import { TlsError } from './errors.js'
import type { Hello } from './handshake.js'
import { resolveTransportLimits } from './limits.js'
import type { OutgoingMessage } from './message.js'
import { PeerTransport } from './peer-transport.js'
import type { ListenOptions, TransportServer } from './server.js'
import { createStats } from './stats.js'
import { CLUSTER, HOST, recordingLogger, startServer, waitFor, type RecordingLogger } from './test-support.js'
import { checkCertificateHost, loadTlsFiles, type DialTls, type ListenTls } from './tls.js'

// Fixtures made by scripts/tls-fixtures.ts (a test CA, valid for a century).
const fixture = (name: string) => new URL(`../../../test-fixtures/tls/${name}`, import.meta.url).pathname
const pem = (name: string) => readFileSync(fixture(name))
const ca = pem('ca.crt')
const serverTls = (cert = 'replica', extra: Partial<ListenTls> = {}): ListenTls => ({ ca, cert: pem(`${cert}.crt`), key: pem(`${cert}.key`), ...extra })
const replicaCert: DialTls = { ca, cert: pem('replica.crt'), key: pem('replica.key') }
const clientCert: DialTls = { ca, cert: pem('client.crt'), key: pem('client.key') }

const CLIENT_TOKEN = 'client-token'
const PEER_TOKEN = 'peer-token-0123456789'

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function server(overrides: Partial<ListenOptions> = {}): Promise<{ s: TransportServer; logger: RecordingLogger; peerMessages: string[] }> {
  const logger = recordingLogger()
  const peerMessages: string[] = []
  const s = await startServer({ token: CLIENT_TOKEN, peerToken: PEER_TOKEN, logger, onPeerMessage: (from, msg) => peerMessages.push(`${from}:${msg.type}`), ...overrides })
  cleanup.push(() => s.close())
  return { s, logger, peerMessages }
}

async function connectClient(port: number, tls: DialTls | undefined, token = CLIENT_TOKEN, host = HOST): Promise<ClientConnection> {
  const c = await ClientConnection.connect({ host, port, clusterId: CLUSTER, token, ...(tls === undefined ? {} : { tls }), limits: { connectTimeoutMs: 3000 } })
  cleanup.push(() => c.close())
  return c
}

/** The connecting side of a handshake as a peer would do it: resolves with the welcome's node id. */
async function peerDial(port: number, token: string, tls: DialTls | undefined): Promise<string> {
  const hello: Hello = { type: 'hello', clusterId: CLUSTER, token, role: 'peer', nodeId: 'p9' }
  const { conn, welcome } = await dial({
    host: HOST, port, hello, ...(tls === undefined ? {} : { tls }), limits: resolveTransportLimits({ connectTimeoutMs: 3000 }),
    queue: new DropOldestQueue<OutgoingMessage>(16), stats: createStats(), onMessage: () => {}, onClose: () => {},
  })
  conn.close({ reason: 'test done', error: null, protocolError: false })
  return welcome.nodeId
}

describe('TLS', () => {
  it('serves a client over TLS when it trusts the CA and dials a host in the certificate', async () => {
    const { s } = await server({ tls: serverTls() })
    for (const host of ['127.0.0.1', 'localhost']) {
      const c = await connectClient(s.port, { ca }, CLIENT_TOKEN, host)
      expect(await c.request({ type: 'ping', body: host })).toMatchObject({ type: 'echo', body: host })
    }
  })

  it('refuses a plain-TCP client: the client is told TLS may be required, the replica logs why', async () => {
    const { s, logger } = await server({ tls: serverTls() })
    const err = await connectClient(s.port, undefined).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'CONNECTION_CLOSED' })
    expect((err as Error).message).toMatch(/without answering the hello \(a replica that requires TLS does this to a plain-TCP client/)
    expect(s.connectionCount).toBe(0)
    await waitFor(() => logger.find('warn', 'TLS handshake failed').length > 0, 'the replica to log the failed handshake')
    expect(logger.find('warn', 'TLS handshake failed')[0]?.obj.reason).toMatch(/plain-TCP client/)
  })

  it('a TLS client of a plain replica fails with TLS_HANDSHAKE_FAILED; the replica names the cause', async () => {
    const { s, logger } = await server()
    await expect(connectClient(s.port, { ca })).rejects.toMatchObject({ name: 'TlsError', code: 'TLS_HANDSHAKE_FAILED' })
    await waitFor(() => logger.find('warn', 'connection closed: protocol error').length > 0, 'the replica to log it')
    expect(logger.find('warn', 'connection closed: protocol error')[0]?.obj.reason).toMatch(/a TLS client on a plain-TCP listener/)
  })

  it.each([
    ['a certificate from another CA', 'stranger', HOST, 'TLS_UNKNOWN_CA', /not signed by the cluster CA/],
    ['a certificate for another name', 'wrong-name', HOST, 'TLS_NAME_MISMATCH', /not for this host/],
    ['an expired certificate', 'expired', HOST, 'TLS_BAD_CERT', /CERT_HAS_EXPIRED/],
  ])('a client refuses a replica with %s (%s)', async (_what, cert, host, code, message) => {
    const { s } = await server({ tls: serverTls(cert) })
    const err = await connectClient(s.port, { ca }, CLIENT_TOKEN, host).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TlsError)
    expect(err).toMatchObject({ code })
    expect((err as Error).message).toMatch(message)
  })

  it('peers are mutual TLS: a replica certificate of the CA is welcome; none, or another CA\'s, is refused with the reason logged', async () => {
    const { s, logger } = await server({ tls: serverTls() })
    expect(await peerDial(s.port, PEER_TOKEN, replicaCert)).toBe('n1')
    await expect(peerDial(s.port, PEER_TOKEN, { ca })).rejects.toMatchObject({ code: 'HANDSHAKE_REFUSED', reason: expect.stringMatching(/peer hello without a certificate/) })
    await expect(peerDial(s.port, PEER_TOKEN, { ca, cert: pem('stranger.crt'), key: pem('stranger.key') })).rejects.toMatchObject({
      code: 'HANDSHAKE_REFUSED', reason: expect.stringMatching(/peer certificate not signed by the cluster CA/),
    })
    expect(logger.find('warn', 'handshake refused').map((e) => e.obj.role)).toEqual(['peer', 'peer'])
  })

  it('a peer claiming a known replica id must present a certificate for that replica\'s host', async () => {
    const known = await server({ tls: serverTls(), peerHosts: new Map([['p9', '127.0.0.1']]) })
    expect(await peerDial(known.s.port, PEER_TOKEN, replicaCert)).toBe('n1')
    await expect(peerDial(known.s.port, PEER_TOKEN, clientCert)).rejects.toMatchObject({ reason: expect.stringMatching(/peer certificate \(no subjectAltName\) is not for this replica's host 127\.0\.0\.1/) })
    const elsewhere = await server({ tls: serverTls(), peerHosts: new Map([['p9', '10.9.9.9']]) })
    await expect(peerDial(elsewhere.s.port, PEER_TOKEN, replicaCert)).rejects.toMatchObject({
      reason: expect.stringMatching(/peer certificate \(IP Address:127\.0\.0\.1, DNS:localhost\) is not for this replica's host 10\.9\.9\.9/),
    })
  })

  it('clients need no certificate unless requireClientCert; then the client certificate is welcome and none is refused', async () => {
    const open = await server({ tls: serverTls() })
    expect((await connectClient(open.s.port, { ca })).serverNodeId).toBe('n1')
    const strict = await server({ tls: serverTls('replica', { requireClientCert: true }) })
    await expect(connectClient(strict.s.port, { ca })).rejects.toMatchObject({ code: 'HANDSHAKE_REFUSED', reason: expect.stringMatching(/requires a client certificate/) })
    expect((await connectClient(strict.s.port, clientCert)).serverNodeId).toBe('n1')
    await expect(connectClient(strict.s.port, { ca, cert: pem('stranger.crt'), key: pem('stranger.key') })).rejects.toMatchObject({
      reason: expect.stringMatching(/client certificate not signed by the cluster CA/),
    })
  })

  it('a PeerTransport with the replica certificate delivers over TLS', async () => {
    const { s, peerMessages } = await server({ tls: serverTls() })
    const peers = new PeerTransport({ nodeId: 'p2', clusterId: CLUSTER, token: PEER_TOKEN, tls: replicaCert, peers: { n1: { host: HOST, port: s.port } } })
    cleanup.push(() => peers.close())
    peers.send('n1', { type: 'vote', term: 1 })
    await waitFor(() => peerMessages.length === 1, 'the vote over TLS')
    expect(peerMessages).toEqual(['p2:vote'])
  })
})

describe('peer and client credentials', () => {
  it('a peer hello with the client token is refused, saying a client credential cannot join as a replica', async () => {
    const { s, logger } = await server()
    await expect(peerDial(s.port, CLIENT_TOKEN, undefined)).rejects.toMatchObject({ reason: expect.stringMatching(/client token: a client credential cannot join as a replica/) })
    expect(logger.find('warn', 'handshake refused')[0]?.obj).toMatchObject({ role: 'peer', remoteNodeId: 'p9', reason: expect.stringMatching(/client token/) })
    expect(await peerDial(s.port, PEER_TOKEN, undefined)).toBe('n1')
  })

  it('a client hello with the peer token is refused; the client token is welcome', async () => {
    const { s } = await server()
    await expect(connectClient(s.port, undefined, PEER_TOKEN)).rejects.toMatchObject({ reason: 'wrong token' })
    expect((await connectClient(s.port, undefined, CLIENT_TOKEN)).serverNodeId).toBe('n1')
  })

  it('without a peer token (configs from before the split) peers present the one token', async () => {
    const { s } = await server({ peerToken: undefined as unknown as string })
    expect(await peerDial(s.port, CLIENT_TOKEN, undefined)).toBe('n1')
    await expect(peerDial(s.port, 'guess', undefined)).rejects.toMatchObject({ reason: 'wrong peer token' })
  })
})

describe('certificate files', () => {
  it('loads a CA, a certificate and its key that belong together', () => {
    const m = loadTlsFiles({ caFile: fixture('ca.crt'), certFile: fixture('replica.crt'), keyFile: fixture('replica.key') })
    expect(m.cert?.toString()).toContain('BEGIN CERTIFICATE')
    expect(loadTlsFiles({ caFile: fixture('ca.crt') }).cert).toBeUndefined()
  })

  it.each([
    ['a missing file', { caFile: fixture('nope.crt') }, 'TLS_CONFIG', /cannot read the CA certificate .*nope\.crt: ENOENT/],
    ['a key that is not a certificate', { caFile: fixture('replica.key') }, 'TLS_CONFIG', /is not a PEM certificate/],
    ['a key of another certificate', { caFile: fixture('ca.crt'), certFile: fixture('replica.crt'), keyFile: fixture('client.key') }, 'TLS_CONFIG', /does not belong to the certificate/],
    ['a certificate of another CA', { caFile: fixture('ca.crt'), certFile: fixture('stranger.crt'), keyFile: fixture('stranger.key') }, 'TLS_UNKNOWN_CA', /is not signed by the CA in/],
    ['an expired certificate', { caFile: fixture('ca.crt'), certFile: fixture('expired.crt'), keyFile: fixture('expired.key') }, 'TLS_BAD_CERT', /expired on/],
  ])('refuses %s with a clear TlsError', (_what, files, code, message) => {
    let thrown: unknown
    try {
      loadTlsFiles(files)
    } catch (e) {
      thrown = e
    }
    expect(thrown).toBeInstanceOf(TlsError)
    expect(thrown).toMatchObject({ code })
    expect((thrown as Error).message).toMatch(message)
  })

  it('checks that the advertised host is in the certificate', () => {
    expect(() => checkCertificateHost(pem('replica.crt'), '127.0.0.1', 'replica.crt')).not.toThrow()
    expect(() => checkCertificateHost(pem('replica.crt'), 'localhost', 'replica.crt')).not.toThrow()
    expect(() => checkCertificateHost(pem('replica.crt'), '10.0.0.1', 'replica.crt')).toThrow(/is for IP Address:127\.0\.0\.1, DNS:localhost, not for this replica's advertised host 10\.0\.0\.1/)
    expect(() => checkCertificateHost(pem('wrong-name.crt'), 'h1', 'wrong-name.crt')).toThrow(expect.objectContaining({ code: 'TLS_NAME_MISMATCH' }))
  })
})
