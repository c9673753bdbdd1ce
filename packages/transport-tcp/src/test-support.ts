// Helpers for this package's tests (not exported from index.ts).
import { connect, type Socket } from 'node:net'
import type { Logger } from './logger.js'
import type { TransportMessage } from './message.js'
import { TransportServer, type ListenOptions } from './server.js'

export const CLUSTER = 'test-cluster'
export const TOKEN = 'secret-token'
export const HOST = '127.0.0.1'

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error'
  readonly obj: Record<string, unknown>
  readonly msg: string
}

export interface RecordingLogger extends Logger {
  readonly entries: LogEntry[]
  find(level: LogEntry['level'], msg: string): LogEntry[]
}

export function recordingLogger(): RecordingLogger {
  const entries: LogEntry[] = []
  const at = (level: LogEntry['level']) => (obj: object, msg?: string) => {
    entries.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' })
  }
  return {
    entries,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    find: (level, msg) => entries.filter((e) => e.level === level && e.msg === msg),
  }
}

/** Polls `condition` every `intervalMs` until true; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000, intervalMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(intervalMs)
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

type ServerOverrides = Partial<ListenOptions>

/** A listener on an OS-chosen port with the test cluster's credentials. */
export function startServer(overrides: ServerOverrides = {}): Promise<TransportServer> {
  return TransportServer.listen({
    host: HOST,
    port: 0,
    clusterId: CLUSTER,
    token: TOKEN,
    nodeId: 'n1',
    onPeerMessage: () => {},
    onClientRequest: (msg, reply) => reply({ type: 'echo', body: msg.body }),
    ...overrides,
  })
}

/**
 * A raw TCP socket, for speaking (or mis-speaking) the protocol by hand. Flowing from the
 * start: unread incoming data would otherwise hold back its 'end' and 'close'.
 */
export function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port })
    socket.resume()
    socket.once('connect', () => resolve(socket))
    socket.once('error', reject)
  })
}

export function closedPromise(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()))
}

export function clientHello(overrides: Record<string, unknown> = {}): TransportMessage {
  return { type: 'hello', clusterId: CLUSTER, token: TOKEN, role: 'client', ...overrides }
}
