import { createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { UnknownPeerError } from './errors.js'
import { FrameDecoder, FrameEncoder } from './frame.js'
import { LINK_PING, type TransportMessage } from './message.js'
import { PeerTransport, type PeerTransportOptions } from './peer-transport.js'
import type { TransportServer } from './server.js'
import { CLUSTER, HOST, TOKEN, recordingLogger, sleep, startServer, waitFor } from './test-support.js'

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

interface Received {
  readonly from: string
  readonly msg: TransportMessage
}

/** A replica's listener that records every peer message it receives. */
async function replica(nodeId: string, port = 0): Promise<{ server: TransportServer; received: Received[] }> {
  const received: Received[] = []
  const server = await startServer({ nodeId, port, onPeerMessage: (from, msg) => received.push({ from, msg }) })
  cleanup.push(() => server.close())
  return { server, received }
}

function peers(nodeId: string, book: Record<string, number>, extra: Partial<PeerTransportOptions> = {}): PeerTransport {
  const transport = new PeerTransport({
    nodeId,
    clusterId: CLUSTER,
    token: TOKEN,
    peers: Object.fromEntries(Object.entries(book).map(([id, port]) => [id, { host: HOST, port }])),
    ...extra,
  })
  cleanup.push(() => transport.close())
  return transport
}

describe('PeerTransport', () => {
  it('sends both ways: each replica sends on the connection it opened', async () => {
    const a = await replica('a')
    const b = await replica('b')
    const fromA = peers('a', { b: b.server.port })
    const fromB = peers('b', { a: a.server.port })
    fromA.send('b', { type: 'vote', term: 1 })
    fromA.send('b', { type: 'append', term: 1, data: new Uint8Array([1, 2, 3]) })
    fromB.send('a', { type: 'vote-reply', term: 1, granted: true })
    await waitFor(() => b.received.length === 2 && a.received.length === 1, 'messages both ways')
    expect(b.received.map((r) => [r.from, r.msg.type])).toEqual([
      ['a', 'vote'],
      ['a', 'append'],
    ])
    expect([...(b.received[1]!.msg.data as Uint8Array)]).toEqual([1, 2, 3])
    expect(a.received[0]).toEqual({ from: 'b', msg: { type: 'vote-reply', term: 1, granted: true } })
    expect(fromA.peerState('b')).toBe('open')
    expect(fromA.stats()).toMatchObject({ framesSent: 3, connectionsOpened: 1 }) // hello + 2
    expect(b.server.stats().framesReceived).toBe(3)
  })

  it('keeps one connection per peer pair for many messages', async () => {
    const b = await replica('b')
    const fromA = peers('a', { b: b.server.port })
    for (let i = 0; i < 500; i++) fromA.send('b', { type: 'append', i })
    await waitFor(() => b.received.length === 500, '500 messages')
    expect(b.received.map((r) => r.msg.i)).toEqual(Array.from({ length: 500 }, (_, i) => i))
    expect(b.server.stats().connectionsOpened).toBe(1)
    // The burst left in a few writes, not 500.
    expect(fromA.stats().socketWrites).toBeLessThan(20)
  })

  it('reconnects after the listener restarts, and delivers what was queued meanwhile', async () => {
    const first = await replica('b')
    const port = first.server.port
    const fromA = peers('a', { b: port }, { limits: { reconnectMaxDelayMs: 100 } })
    fromA.send('b', { type: 'append', n: 1 })
    await waitFor(() => first.received.length === 1, 'the first message')
    await first.server.close()
    await waitFor(() => fromA.peerState('b') !== 'open', 'the sender to notice the loss')
    fromA.send('b', { type: 'append', n: 2 }) // queued while disconnected
    const second = await replica('b', port)
    await waitFor(() => second.received.length === 1, 'the queued message after the restart')
    fromA.send('b', { type: 'append', n: 3 })
    await waitFor(() => second.received.length === 2, 'a message after the restart')
    expect(second.received.map((r) => r.msg.n)).toEqual([2, 3])
    expect(fromA.peerState('b')).toBe('open')
    expect(fromA.stats().reconnects).toBeGreaterThanOrEqual(1)
  })

  it('bounds what is queued while a peer is unreachable (drop-oldest)', async () => {
    const closed = await replica('b')
    const port = closed.server.port
    await closed.server.close()
    const logger = recordingLogger()
    const fromA = peers('a', { b: port }, { logger, limits: { maxQueuedMessages: 10 } })
    for (let i = 0; i < 100; i++) fromA.send('b', { type: 'append', i })
    expect(fromA.peerStats('b')).toMatchObject({ queuedMessages: 10, droppedQueueFull: 90 })
    await waitFor(() => logger.find('warn', 'cannot reach peer; retrying with backoff').length === 1, 'a logged failure')
    const b = await replica('b', port)
    await waitFor(() => b.received.length === 10, 'the 10 newest messages')
    expect(b.received.map((r) => r.msg.i)).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99])
  })

  it('keeps only the newest few for a peer it failed to reach; they arrive when it returns', async () => {
    const closed = await replica('b')
    const port = closed.server.port
    await closed.server.close()
    const fromA = peers('a', { b: port }, { limits: { maxQueuedMessages: 100, maxQueuedMessagesUnreachable: 5, reconnectMinDelayMs: 200, reconnectMaxDelayMs: 400 } })
    fromA.send('b', { type: 'append', i: -1 })
    await waitFor(() => fromA.peerState('b') === 'backoff', 'the failed dial')
    for (let i = 0; i < 50; i++) fromA.send('b', { type: 'append', i })
    expect(fromA.peerStats('b').queuedMessages).toBe(5)
    expect(fromA.peerStats('b').droppedUnreachable).toBe(46)
    const b = await replica('b', port)
    await waitFor(() => b.received.length === 5, 'the 5 newest messages')
    expect(b.received.map((r) => r.msg.i)).toEqual([45, 46, 47, 48, 49])
  })

  it('bounds the bytes queued for a peer, not only the messages', async () => {
    const closed = await replica('b')
    const port = closed.server.port
    await closed.server.close()
    const fromA = peers('a', { b: port }, { limits: { maxQueuedBytes: 64 * 1024 } })
    for (let i = 0; i < 20; i++) fromA.send('b', { type: 'append', i, data: new Uint8Array(10_000) })
    expect(fromA.peerStats('b').queuedMessages).toBeLessThanOrEqual(6)
    expect(fromA.peerStats('b').droppedQueueFull + fromA.peerStats('b').droppedUnreachable).toBeGreaterThanOrEqual(14)
  })

  it('with dropRate 1 and dropKinds [vote], only votes vanish', async () => {
    const b = await replica('b')
    const fromA = peers('a', { b: b.server.port }, { faults: { dropRate: 1, dropKinds: ['vote'], delayMs: 0 } })
    for (let i = 0; i < 10; i++) {
      fromA.send('b', { type: 'vote', i })
      fromA.send('b', { type: 'append', i })
    }
    fromA.send('b', { type: 'heartbeat' })
    await waitFor(() => b.received.some((r) => r.msg.type === 'heartbeat'), 'the last message')
    expect(b.received.map((r) => r.msg.type)).toEqual([...Array<string>(10).fill('append'), 'heartbeat'])
    expect(fromA.stats().droppedByFault).toBe(10)
  })

  it('delayMs holds messages back', async () => {
    const b = await replica('b')
    const fromA = peers('a', { b: b.server.port }, { faults: { dropRate: 0, dropKinds: null, delayMs: 150 } })
    const sentAt = Date.now()
    fromA.send('b', { type: 'append' })
    await waitFor(() => b.received.length === 1, 'the delayed message')
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(140)
  })

  it('takes a peer added at runtime, and moves one to a new address', async () => {
    const b = await replica('b')
    const c = await replica('c')
    const fromA = peers('a', {})
    expect(fromA.hasPeer('b')).toBe(false)
    expect(fromA.setPeer('b', { host: HOST, port: b.server.port })).toBe(true)
    expect(fromA.setPeer('b', { host: HOST, port: b.server.port })).toBe(false)
    fromA.send('b', { type: 'vote', term: 1 })
    await waitFor(() => b.received.length === 1, 'a message to the added peer')
    // The replica "b" now lives where c listens (a replacement on a new address).
    expect(fromA.setPeer('b', { host: HOST, port: c.server.port })).toBe(true)
    fromA.send('b', { type: 'vote', term: 2 })
    await waitFor(() => c.received.length === 1, 'a message to the moved peer')
    expect(c.received[0]).toEqual({ from: 'a', msg: { type: 'vote', term: 2 } })
    expect(b.received).toHaveLength(1)
  })

  it('throws a typed error for a peer not in the address book', () => {
    const fromA = peers('a', {})
    expect(() => fromA.send('zz', { type: 'vote' })).toThrowError(UnknownPeerError)
    expect(() => fromA.send('zz', { type: 'vote' })).toThrowError(expect.objectContaining({ code: 'UNKNOWN_PEER' }))
  })
})

/** A listener that welcomes one peer and then reads nothing until `resume()`. */
async function slowReader(): Promise<{ port: number; received: TransportMessage[]; resume: () => void }> {
  const received: TransportMessage[] = []
  let socket: Socket | null = null
  const server: Server = createServer((s) => {
    socket = s
    const decoder = new FrameDecoder()
    const encoder = new FrameEncoder()
    s.on('data', (chunk: Buffer) => {
      for (const msg of decoder.decode(chunk)) {
        if (msg.type === 'hello') {
          s.write(encoder.encode([{ type: 'welcome', nodeId: 'slow' }]))
          s.pause()
        } else if (msg.type !== LINK_PING) received.push(msg)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve))
  cleanup.push(() => {
    socket?.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { port: address.port, received, resume: () => socket?.resume() }
}

describe('PeerTransport backpressure', () => {
  it('a slow reader: the queue stays bounded, drops are counted, nothing else is lost', async () => {
    const slow = await slowReader()
    const maxBatchBytes = 64 * 1024
    // Probes off: this reader never answers them, and the test is about backpressure on a live
    // link. (A probe sent anyway would take a queue slot and reach the reader as an extra
    // message: a slow run then never balanced the count below.)
    const fromA = peers('a', { slow: slow.port }, { limits: { maxQueuedMessages: 16, maxBatchBytes, peerPingIntervalMs: 1_000_000, peerSilenceMs: 3_600_000 } })
    const payload = new Uint8Array(16 * 1024)
    let sent = 0
    let maxBuffered = 0
    let maxQueued = 0
    // Bounded: at most 1000 rounds of 10 messages (160 MiB), far beyond what loopback buffers hold.
    for (let round = 0; round < 1000 && fromA.peerStats('slow').droppedQueueFull < 200; round++) {
      for (let i = 0; i < 10; i++) fromA.send('slow', { type: 'append', seq: sent++, payload })
      await sleep(0)
      const stats = fromA.peerStats('slow')
      maxBuffered = Math.max(maxBuffered, stats.socketBufferedBytes)
      maxQueued = Math.max(maxQueued, stats.queuedMessages)
    }
    const stalled = fromA.peerStats('slow')
    expect(stalled.droppedQueueFull).toBeGreaterThanOrEqual(200)
    expect(maxQueued).toBeLessThanOrEqual(16)
    // The socket did push back, and nothing was written past that but the batch that filled it.
    expect(maxBuffered).toBeGreaterThan(0)
    expect(maxBuffered).toBeLessThanOrEqual(maxBatchBytes + 2 * payload.length + 1024)

    slow.resume()
    const dropped = () => fromA.peerStats('slow').droppedQueueFull + fromA.peerStats('slow').droppedUnreachable
    try {
      await waitFor(() => slow.received.length + dropped() === sent, 'every message delivered or counted as dropped', 30_000)
    } catch (e) {
      // Say where it stood: delivered, dropped and what the link still holds.
      throw new Error(`${String(e)}: sent ${sent}, received ${slow.received.length}, dropped ${dropped()}, stats ${JSON.stringify(fromA.peerStats('slow'))}`)
    }
    // Drop-oldest: the newest message always survives.
    expect(slow.received.at(-1)?.seq).toBe(sent - 1)
    const seqs = slow.received.map((m) => m.seq as number)
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y))
  })
})

describe('PeerTransport handshake', () => {
  it('a refused hello is logged as an error and retried with backoff, never delivered', async () => {
    const b = await replica('b')
    const logger = recordingLogger()
    const fromA = peers('a', { b: b.server.port }, { token: 'stale-token', logger, limits: { reconnectMinDelayMs: 10, reconnectMaxDelayMs: 20 } })
    fromA.send('b', { type: 'vote' })
    await waitFor(() => logger.find('error', 'peer refused our hello').length >= 2, 'two refused attempts')
    expect(logger.find('error', 'peer refused our hello')[0]?.obj).toMatchObject({ peer: 'b', err: expect.objectContaining({ code: 'HANDSHAKE_REFUSED' }) })
    expect(fromA.stats().reconnects).toBeGreaterThanOrEqual(1)
    expect(b.received).toEqual([])
    expect(fromA.peerStats('b').queuedMessages).toBe(1)
  })
})

describe('PeerTransport liveness', () => {
  /** A listener that welcomes every connection and then reads and ignores everything (pings too). */
  async function mutePeer(): Promise<{ port: number; connections: () => number }> {
    let connections = 0
    const sockets: Socket[] = []
    const server: Server = createServer((s) => {
      connections++
      sockets.push(s)
      const decoder = new FrameDecoder()
      const encoder = new FrameEncoder()
      s.on('data', (chunk: Buffer) => {
        for (const msg of decoder.decode(chunk)) if (msg.type === 'hello') s.write(encoder.encode([{ type: 'welcome', nodeId: 'mute' }]))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve))
    cleanup.push(() => {
      for (const s of sockets) s.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    })
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    return { port: address.port, connections: () => connections }
  }

  it('a link whose probes go unanswered is closed and redialed (a connection left stale by a partition)', async () => {
    const mute = await mutePeer()
    const fromA = peers('a', { mute: mute.port }, { limits: { peerPingIntervalMs: 20, peerSilenceMs: 100, reconnectMinDelayMs: 10, reconnectMaxDelayMs: 20 } })
    fromA.send('mute', { type: 'append' })
    await waitFor(() => mute.connections() >= 3, 'two redials of the silent link')
    expect(fromA.peerStats('mute').silentLinksReset).toBeGreaterThanOrEqual(2)
  })

  it('a peer that answers its probes keeps one connection', async () => {
    const b = await replica('b')
    const fromA = peers('a', { b: b.server.port }, { limits: { peerPingIntervalMs: 20, peerSilenceMs: 100 } })
    fromA.send('b', { type: 'append', n: 1 })
    await waitFor(() => b.received.length === 1, 'the message')
    await sleep(400)
    expect(fromA.peerStats('b')).toMatchObject({ silentLinksReset: 0, reconnects: 0 })
    expect(b.received.map((r) => r.msg.type)).toEqual(['append']) // probes are not handed to the replica
  })
})
