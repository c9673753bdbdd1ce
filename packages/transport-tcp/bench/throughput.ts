/**
 * Micro-benchmark: small frames over one loopback connection. Figures, not pass/fail.
 *
 *   node --import tsx packages/transport-tcp/bench/throughput.ts [messages]
 *
 * Peer path: one PeerTransport → one TransportServer, a window of messages in flight.
 * Client path: one ClientConnection, 64 pipelined requests in flight, echo replies.
 * Both ends run in this one process, so the figures include encoding and decoding on one core.
 */
import { ClientConnection, PeerTransport, TransportServer } from '../src/index.js'

const CLUSTER = 'bench'
const TOKEN = 'bench-token'
const messages = Number(process.argv[2] ?? 500_000)
const WINDOW = 2_000

function appendEntries(index: number) {
  return { type: 'append', term: 7, leader: 'n1', prevIndex: index - 1, prevTerm: 7, commit: index - 2, entries: [] as unknown[], index }
}

async function benchPeer(): Promise<void> {
  let received = 0
  let wake: (() => void) | null = null
  const server = await TransportServer.listen({
    host: '127.0.0.1',
    port: 0,
    clusterId: CLUSTER,
    token: TOKEN,
    nodeId: 'n2',
    onPeerMessage: () => {
      received++
      if (wake !== null && received % 500 === 0) wake()
    },
    onClientRequest: () => {},
  })
  const peers = new PeerTransport({ nodeId: 'n1', clusterId: CLUSTER, token: TOKEN, peers: { n2: { host: '127.0.0.1', port: server.port } } })
  const started = process.hrtime.bigint()
  for (let sent = 0; sent < messages; ) {
    // Keep at most WINDOW in flight so that the bounded queue never has to drop.
    while (sent < messages && sent - received < WINDOW) peers.send('n2', appendEntries(sent++))
    await new Promise<void>((resolve) => {
      wake = resolve
      setImmediate(resolve)
    })
  }
  for (let spins = 0; received < messages && spins < 100_000; spins++) await new Promise((resolve) => setImmediate(resolve))
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const stats = peers.stats()
  console.log(
    `peer   : ${received} frames in ${seconds.toFixed(2)} s = ${Math.round(received / seconds).toLocaleString('en')} frames/s, ` +
      `${(stats.bytesSent / received).toFixed(1)} bytes/frame, ${(stats.framesSent / stats.socketWrites).toFixed(1)} frames/write, dropped ${stats.droppedQueueFull}`,
  )
  await peers.close()
  await server.close()
}

async function benchClient(): Promise<void> {
  const server = await TransportServer.listen({
    host: '127.0.0.1',
    port: 0,
    clusterId: CLUSTER,
    token: TOKEN,
    nodeId: 'n1',
    onPeerMessage: () => {},
    onClientRequest: (msg, reply) => reply({ type: 'ok', key: msg.key }),
  })
  const client = await ClientConnection.connect({ host: '127.0.0.1', port: server.port, clusterId: CLUSTER, token: TOKEN })
  const total = Math.floor(messages / 5)
  let next = 0
  const started = process.hrtime.bigint()
  const worker = async () => {
    while (next < total) await client.request({ type: 'get', key: `key-${next++}` })
  }
  await Promise.all(Array.from({ length: 64 }, worker))
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  console.log(`client : ${total} request/reply pairs in ${seconds.toFixed(2)} s = ${Math.round(total / seconds).toLocaleString('en')} requests/s (64 in flight)`)
  await client.close()
  await server.close()
}

await benchPeer()
await benchClient()
