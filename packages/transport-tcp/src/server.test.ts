import { createServer } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ClientConnection } from './client-connection.js'
import { HandshakeRefusedError, PortInUseError } from './errors.js'
import { FrameDecoder, FrameEncoder } from './frame.js'
import type { TransportMessage } from './message.js'
import {
  CLUSTER,
  HOST,
  TOKEN,
  clientHello,
  closedPromise,
  rawSocket,
  recordingLogger,
  startServer,
  waitFor,
} from './test-support.js'

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function server(...args: Parameters<typeof startServer>) {
  const s = await startServer(...args)
  cleanup.push(() => s.close())
  return s
}

async function client(port: number, overrides: Partial<Parameters<typeof ClientConnection.connect>[0]> = {}) {
  const c = await ClientConnection.connect({ host: HOST, port, clusterId: CLUSTER, token: TOKEN, ...overrides })
  cleanup.push(() => c.close())
  return c
}

async function raw(port: number) {
  const socket = await rawSocket(port)
  cleanup.push(() => {
    socket.destroy()
  })
  return socket
}

/** Everything the server writes to a raw socket, decoded, until it closes. */
function collectFrames(socket: import('node:net').Socket): TransportMessage[] {
  const decoder = new FrameDecoder()
  const out: TransportMessage[] = []
  socket.on('data', (chunk: Buffer) => out.push(...decoder.decode(chunk)))
  return out
}

describe('TransportServer handshake', () => {
  it('welcomes a client with the right cluster id and token', async () => {
    const s = await server({ nodeId: 'replica-7' })
    const c = await client(s.port)
    expect(c.serverNodeId).toBe('replica-7')
    expect(await c.request({ type: 'ping', body: 'hi' })).toMatchObject({ type: 'echo', body: 'hi' })
  })

  it('refuses a wrong token, says why, logs the remote address, and closes', async () => {
    const logger = recordingLogger()
    const s = await server({ logger })
    const attempt = ClientConnection.connect({ host: HOST, port: s.port, clusterId: CLUSTER, token: 'guess' })
    await expect(attempt).rejects.toThrowError(HandshakeRefusedError)
    await expect(attempt).rejects.toMatchObject({ code: 'HANDSHAKE_REFUSED', reason: 'wrong token' })
    const [entry] = logger.find('warn', 'handshake refused')
    expect(entry?.obj).toMatchObject({ remoteAddress: HOST, reason: 'wrong token' })
    expect(JSON.stringify(logger.entries)).not.toContain('guess')
    await waitFor(() => s.connectionCount === 0, 'the refused connection to close')
  })

  it('refuses a wrong cluster id', async () => {
    const logger = recordingLogger()
    const s = await server({ logger })
    const attempt = ClientConnection.connect({ host: HOST, port: s.port, clusterId: 'other-cluster', token: TOKEN })
    await expect(attempt).rejects.toMatchObject({ code: 'HANDSHAKE_REFUSED', reason: expect.stringContaining('wrong cluster id') })
    expect(logger.find('warn', 'handshake refused')[0]?.obj).toMatchObject({ remoteAddress: HOST })
  })

  it('judges a client hello without a cluster id by its token alone; a peer hello needs one', async () => {
    const s = await server({ nodeId: 'replica-7' })
    const c = await ClientConnection.connect({ host: HOST, port: s.port, token: TOKEN })
    cleanup.push(() => c.close())
    expect(c.serverNodeId).toBe('replica-7')
    await expect(ClientConnection.connect({ host: HOST, port: s.port, token: 'guess' })).rejects.toMatchObject({ code: 'HANDSHAKE_REFUSED', reason: 'wrong token' })
    const socket = await raw(s.port)
    const frames = collectFrames(socket)
    socket.write(new FrameEncoder().encode([{ type: 'hello', token: TOKEN, role: 'peer', nodeId: 'p1' }]))
    await closedPromise(socket)
    expect(frames).toEqual([])
  })

  it('answers refused on the wire, then closes', async () => {
    const s = await server()
    const socket = await raw(s.port)
    const frames = collectFrames(socket)
    socket.write(new FrameEncoder().encode([clientHello({ token: 'nope' })]))
    await closedPromise(socket)
    expect(frames).toEqual([{ type: 'refused', reason: 'wrong token' }])
  })

  it('closes a connection whose first frame is not a hello, and logs why', async () => {
    const logger = recordingLogger()
    let requests = 0
    const s = await server({ logger, onClientRequest: () => requests++ })
    const socket = await raw(s.port)
    socket.write(new FrameEncoder().encode([{ type: 'get', id: 1, key: 'k' }]))
    await closedPromise(socket)
    expect(requests).toBe(0)
    expect(logger.find('warn', 'connection closed: protocol error')[0]?.obj).toMatchObject({
      remoteAddress: HOST,
      reason: expect.stringContaining('expected hello'),
    })
    expect(s.stats().protocolErrors).toBe(1)
  })

  it('closes a connection that never says hello', async () => {
    const logger = recordingLogger()
    const s = await server({ logger, limits: { handshakeTimeoutMs: 50 } })
    const socket = await raw(s.port)
    await closedPromise(socket)
    expect(logger.find('warn', 'connection closed: protocol error')[0]?.obj.reason).toMatch(/no hello within 50 ms/)
  })

  it('rejects a peer hello without a node id', async () => {
    const s = await server()
    const socket = await raw(s.port)
    socket.write(new FrameEncoder().encode([{ type: 'hello', clusterId: CLUSTER, token: TOKEN, role: 'peer' }]))
    await closedPromise(socket)
    expect(s.stats().protocolErrors).toBe(1)
  })
})

describe('TransportServer gateway', () => {
  it('garbage bytes close only that connection; another client keeps working', async () => {
    const logger = recordingLogger()
    const s = await server({ logger })
    const good = await client(s.port)
    const bad = await raw(s.port)
    bad.write('GET / HTTP/1.1\r\nHost: example\r\n\r\n')
    await closedPromise(bad)
    expect(logger.find('warn', 'connection closed: protocol error')[0]?.obj.reason).toMatch(/FRAME_TOO_LARGE/)
    expect(await good.request({ type: 'ping', body: 1 })).toMatchObject({ type: 'echo', body: 1 })
  })

  it('an undecodable frame after the handshake closes only that connection', async () => {
    const logger = recordingLogger()
    const s = await server({ logger })
    const good = await client(s.port)
    const bad = await raw(s.port)
    const frames = collectFrames(bad)
    bad.write(new FrameEncoder().encode([clientHello()]))
    await waitFor(() => frames.length === 1, 'welcome')
    bad.write(Buffer.from([0, 0, 0, 4, 0xc7, 5, 0x72, 1]))
    await closedPromise(bad)
    expect(logger.find('warn', 'connection closed: protocol error')[0]?.obj.reason).toMatch(/FRAME_MALFORMED/)
    expect(await good.request({ type: 'ping', body: 2 })).toMatchObject({ body: 2 })
  })

  it('an oversized frame after the handshake is refused from its header', async () => {
    const logger = recordingLogger()
    const s = await server({ logger, maxFrameBytes: 1024 })
    const bad = await raw(s.port)
    const frames = collectFrames(bad)
    bad.write(new FrameEncoder().encode([clientHello()]))
    await waitFor(() => frames.length === 1, 'welcome')
    bad.write(Buffer.from([0x7f, 0, 0, 0]))
    await closedPromise(bad)
    expect(logger.find('warn', 'connection closed: protocol error')[0]?.obj.reason).toMatch(/FRAME_TOO_LARGE/)
  })

  it('a truncated frame followed by close is logged and never delivered', async () => {
    const logger = recordingLogger()
    let requests = 0
    const s = await server({ logger, onClientRequest: () => requests++ })
    const socket = await raw(s.port)
    const encoder = new FrameEncoder()
    const frames = collectFrames(socket)
    socket.write(encoder.encode([clientHello()]))
    await waitFor(() => frames.length === 1, 'welcome')
    const request = encoder.encode([{ type: 'put', id: 1, value: 'x'.repeat(100) }])
    socket.end(request.subarray(0, request.length - 10))
    await waitFor(() => s.connectionCount === 0, 'the server to drop the connection')
    expect(requests).toBe(0)
    expect(logger.find('debug', 'connection closed')[0]?.obj.reason).toMatch(/mid-frame/)
  })

  it('a client request without an integer id closes the connection', async () => {
    const s = await server()
    const socket = await raw(s.port)
    const encoder = new FrameEncoder()
    socket.write(encoder.encode([clientHello(), { type: 'get', key: 'k' }]))
    await closedPromise(socket)
    expect(s.stats().protocolErrors).toBe(1)
  })

  it('a handler that throws costs its connection, not the server', async () => {
    const logger = recordingLogger()
    const s = await server({
      logger,
      onClientRequest: (msg, reply) => {
        if (msg.type === 'boom') throw new Error('handler bug')
        reply({ type: 'ok' })
      },
    })
    const first = await client(s.port)
    await expect(first.request({ type: 'boom' })).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' })
    expect(logger.find('error', 'message handler threw; closing the connection')).toHaveLength(1)
    const second = await client(s.port)
    expect(await second.request({ type: 'fine' })).toMatchObject({ type: 'ok' })
  })
})

describe('TransportServer.listen', () => {
  it('rejects with PORT_IN_USE when the port is taken', async () => {
    const s = await server()
    const second = startServer({ port: s.port })
    await expect(second).rejects.toThrowError(PortInUseError)
    await expect(second).rejects.toMatchObject({ code: 'PORT_IN_USE', port: s.port })
  })

  it('rejects with PORT_IN_USE when another program holds the port', async () => {
    const other = createServer()
    await new Promise<void>((resolve) => other.listen(0, HOST, resolve))
    cleanup.push(() => new Promise<void>((resolve) => other.close(() => resolve())))
    const address = other.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    await expect(startServer({ port: address.port })).rejects.toMatchObject({ code: 'PORT_IN_USE' })
  })

  it('close() closes every open connection', async () => {
    const s = await startServer()
    const c = await ClientConnection.connect({ host: HOST, port: s.port, clusterId: CLUSTER, token: TOKEN })
    cleanup.push(() => c.close())
    await s.close()
    await waitFor(() => c.closed, 'the client to see the close')
    await expect(c.request({ type: 'ping' })).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' })
  })
})
