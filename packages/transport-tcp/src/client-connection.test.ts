import { afterEach, describe, expect, it } from 'vitest'
import { ClientConnection, type ClientConnectOptions } from './client-connection.js'
import { AbortError, ConnectionClosedError, TooManyPendingError, TransportTimeoutError } from './errors.js'
import type { Reply } from './server.js'
import { CLUSTER, HOST, TOKEN, startServer, waitFor } from './test-support.js'

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function server(...args: Parameters<typeof startServer>) {
  const s = await startServer(...args)
  cleanup.push(() => s.close())
  return s
}

async function client(port: number, extra: Partial<ClientConnectOptions> = {}) {
  const c = await ClientConnection.connect({ host: HOST, port, clusterId: CLUSTER, token: TOKEN, ...extra })
  cleanup.push(() => c.close())
  return c
}

/** A server that holds every request until told to answer. */
async function holdingServer() {
  const held: { n: number; reply: Reply }[] = []
  const s = await server({ onClientRequest: (msg, reply) => held.push({ n: msg.n as number, reply }) })
  return { s, held }
}

describe('ClientConnection', () => {
  it('matches many in-flight requests to replies that come back in reverse order', async () => {
    const { s, held } = await holdingServer()
    const c = await client(s.port)
    const count = 200
    const answers = Array.from({ length: count }, (_, n) => c.request({ type: 'get', n }))
    await waitFor(() => held.length === count, 'every request at the server')
    expect(c.pendingCount).toBe(count)
    for (const h of [...held].reverse()) h.reply({ type: 'value', n: h.n, doubled: h.n * 2 })
    const replies = await Promise.all(answers)
    replies.forEach((reply, n) => expect(reply).toMatchObject({ type: 'value', n, doubled: n * 2 }))
    expect(c.pendingCount).toBe(0)
  })

  it('pipelines: the requests of one burst share socket writes', async () => {
    const s = await server()
    const c = await client(s.port)
    await Promise.all(Array.from({ length: 100 }, (_, n) => c.request({ type: 'ping', body: n })))
    const stats = c.stats()
    expect(stats.framesSent).toBe(101) // hello + 100
    expect(stats.socketWrites).toBeLessThan(10)
  })

  it('a reply nobody waits for any more is dropped and counted', async () => {
    const { s, held } = await holdingServer()
    const c = await client(s.port)
    await expect(c.request({ type: 'get', n: 1 }, { timeoutMs: 30 })).rejects.toThrowError(TransportTimeoutError)
    // On a loaded machine the request may reach the server only after its 30 ms ran out.
    await waitFor(() => held.length === 1, 'the request at the server')
    held[0]!.reply({ type: 'late' })
    held[0]!.reply({ type: 'twice' }) // ignored: one reply per request
    await waitFor(() => c.stats().droppedUnmatched === 1, 'the late reply to be dropped')
    // The connection still serves.
    const next = c.request({ type: 'get', n: 2 })
    await waitFor(() => held.length === 2, 'the second request')
    held[1]!.reply({ type: 'ok' })
    expect(await next).toMatchObject({ type: 'ok' })
    expect(c.stats().droppedUnmatched).toBe(1)
  })

  it('times out with TransportTimeoutError (code TIMEOUT)', async () => {
    const { s } = await holdingServer()
    const c = await client(s.port, { requestTimeoutMs: 40 })
    const started = Date.now()
    await expect(c.request({ type: 'get' })).rejects.toMatchObject({ code: 'TIMEOUT', timeoutMs: 40 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(35)
    expect(c.pendingCount).toBe(0)
  })

  it('rejects with AbortError when the signal fires, and at once if already aborted', async () => {
    const { s } = await holdingServer()
    const c = await client(s.port)
    const controller = new AbortController()
    const pending = c.request({ type: 'get' }, { signal: controller.signal })
    controller.abort(new Error('user gave up'))
    await expect(pending).rejects.toThrowError(AbortError)
    await expect(pending).rejects.toMatchObject({ code: 'ABORT_ERR', name: 'AbortError' })
    await expect(c.request({ type: 'get' }, { signal: AbortSignal.abort() })).rejects.toThrowError(AbortError)
    expect(c.pendingCount).toBe(0)
  })

  it('rejects every pending request with ConnectionClosedError when the connection dies', async () => {
    const { s, held } = await holdingServer()
    const c = await client(s.port)
    const answers = [1, 2, 3].map((n) => c.request({ type: 'get', n }))
    await waitFor(() => held.length === 3, 'the requests at the server')
    const outcomes = Promise.allSettled(answers)
    await s.close()
    for (const outcome of await outcomes) {
      expect(outcome.status).toBe('rejected')
      if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(ConnectionClosedError)
    }
    await expect(c.request({ type: 'get' })).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' })
    expect(c.closed).toBe(true)
  })

  it('rejects pending requests when closed locally', async () => {
    const { s } = await holdingServer()
    const c = await client(s.port)
    const answer = expect(c.request({ type: 'get' })).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' })
    await c.close()
    await answer
  })

  it('refuses more than maxPendingRequests in flight', async () => {
    const { s } = await holdingServer()
    const c = await client(s.port, { limits: { maxPendingRequests: 2 } })
    const first = expect(c.request({ type: 'get' })).rejects.toThrowError(ConnectionClosedError)
    const second = expect(c.request({ type: 'get' })).rejects.toThrowError(ConnectionClosedError)
    await expect(c.request({ type: 'get' })).rejects.toThrowError(TooManyPendingError)
    await c.close()
    await first
    await second
  })

  it('cannot connect to a closed port: ConnectionClosedError', async () => {
    const s = await startServer()
    const port = s.port
    await s.close()
    await expect(ClientConnection.connect({ host: HOST, port, clusterId: CLUSTER, token: TOKEN })).rejects.toMatchObject({
      code: 'CONNECTION_CLOSED',
    })
  })
})

describe('fault injection on the server', () => {
  const classify = (msg: { type: string }) => (msg.type === 'echo' ? 'client-reply' : msg.type)

  it('drops replies of a listed kind; the client times out', async () => {
    const s = await server({ faults: { dropRate: 1, dropKinds: ['client-reply'], delayMs: 0 }, classify })
    const c = await client(s.port)
    await expect(c.request({ type: 'ping' }, { timeoutMs: 50 })).rejects.toThrowError(TransportTimeoutError)
    expect(s.stats().droppedByFault).toBe(1)
  })

  it('can drop incoming client requests before the handler sees them', async () => {
    let seen = 0
    const s = await server({
      faults: { dropRate: 1, dropKinds: ['put'], delayMs: 0 },
      faultIncomingClientRequests: true,
      onClientRequest: (msg, reply) => {
        seen++
        reply({ type: 'ok', was: msg.type })
      },
    })
    const c = await client(s.port)
    await expect(c.request({ type: 'put' }, { timeoutMs: 50 })).rejects.toThrowError(TransportTimeoutError)
    expect(await c.request({ type: 'get' })).toMatchObject({ type: 'ok', was: 'get' })
    expect(seen).toBe(1)
    expect(s.stats().droppedByFault).toBe(1)
  })

  it('delays replies by delayMs', async () => {
    const s = await server({ faults: { dropRate: 0, dropKinds: null, delayMs: 100 } })
    const c = await client(s.port)
    const started = Date.now()
    await c.request({ type: 'ping' })
    expect(Date.now() - started).toBeGreaterThanOrEqual(90)
  })
})
