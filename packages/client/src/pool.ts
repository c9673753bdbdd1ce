import { ClientConnection, type DialTls } from '@kv/transport-tcp'
import { endpointKey, type Endpoint } from './config.js'
import { ClosedError } from './errors.js'
import type { Logger } from './logger.js'

/** What the client needs of a connection to one replica (a `ClientConnection` fits). */
export interface ReplicaConnection {
  /** The replica id from the handshake's welcome. */
  readonly serverNodeId: string
  readonly closed: boolean
  request(msg: { readonly type: string }, options: { timeoutMs?: number; signal?: AbortSignal }): Promise<unknown>
  close(): Promise<void>
}

export interface ConnectArgs {
  readonly endpoint: Endpoint
  /** Left out only by discovery (`discoverCluster`), which learns it: the hello then carries the token alone. */
  readonly clusterId?: string
  readonly token: string
  readonly connectTimeoutMs: number
  readonly logger: Logger
  /** Dial with TLS (the cluster CA, and a client certificate if the cluster requires one). */
  readonly tls?: DialTls
}

/** Opens one connection (and does the handshake). Injectable for tests. */
export type Connector = (args: ConnectArgs) => Promise<ReplicaConnection>

export const tcpConnector: Connector = (args) =>
  ClientConnection.connect({
    host: args.endpoint.host,
    port: args.endpoint.port,
    ...(args.clusterId === undefined ? {} : { clusterId: args.clusterId }),
    token: args.token,
    logger: args.logger,
    limits: { connectTimeoutMs: args.connectTimeoutMs },
    ...(args.tls === undefined ? {} : { tls: args.tls }),
  })

interface Slot {
  conn: ReplicaConnection | null
  opening: Promise<ReplicaConnection> | null
}

/**
 * One connection per replica, opened on first use, shared by every call (requests are
 * pipelined on it) and reopened on the next use after it closes. A failed connect leaves no
 * trace: the next call dials again.
 */
export class ConnectionPool {
  readonly #slots = new Map<string, Slot>()
  #closed = false

  constructor(
    private readonly options: Omit<ConnectArgs, 'endpoint'> & {
      readonly connector: Connector
      /** Called with the id each replica gives in its welcome. */
      readonly onWelcome: (endpoint: Endpoint, nodeId: string) => void
    },
  ) {}

  /** Connections now open. */
  get openCount(): number {
    let n = 0
    for (const slot of this.#slots.values()) if (slot.conn !== null && !slot.conn.closed) n++
    return n
  }

  get(endpoint: Endpoint): Promise<ReplicaConnection> {
    if (this.#closed) return Promise.reject(new ClosedError())
    const key = endpointKey(endpoint)
    let slot = this.#slots.get(key)
    if (slot === undefined) {
      slot = { conn: null, opening: null }
      this.#slots.set(key, slot)
    }
    if (slot.conn !== null && !slot.conn.closed) return Promise.resolve(slot.conn)
    slot.conn = null
    if (slot.opening === null) {
      const opening = this.#open(endpoint, slot)
      const done = () => {
        if (slot.opening === opening) slot.opening = null
      }
      slot.opening = opening
      opening.then(done, done)
    }
    return slot.opening
  }

  async #open(endpoint: Endpoint, slot: Slot): Promise<ReplicaConnection> {
    const { connector, onWelcome, ...args } = this.options
    const conn = await connector({ ...args, endpoint })
    if (this.#closed) {
      await conn.close()
      throw new ClosedError()
    }
    slot.conn = conn
    onWelcome(endpoint, conn.serverNodeId)
    return conn
  }

  /** Drops a connection that misbehaved (it is closed; the next call dials again). */
  async discard(endpoint: Endpoint, conn: ReplicaConnection): Promise<void> {
    const slot = this.#slots.get(endpointKey(endpoint))
    if (slot?.conn === conn) slot.conn = null
    await conn.close()
  }

  /** Closes every connection; pending requests on them reject. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true
    const closing: Array<Promise<void>> = []
    for (const slot of this.#slots.values()) {
      if (slot.conn !== null) closing.push(slot.conn.close())
      // A connect in flight closes its connection itself when it lands (see #open).
      if (slot.opening !== null) closing.push(slot.opening.then(() => undefined, () => undefined))
    }
    this.#slots.clear()
    await Promise.all(closing)
  }
}
