import { createHash, timingSafeEqual } from 'node:crypto'
import type { TransportMessage } from './message.js'

/*
 * The handshake. The connecting side speaks first with a Hello; the listener answers Welcome
 * or Refused (and then closes). Nothing else may come before the Hello.
 */

export type Role = 'peer' | 'client'

export interface Hello {
  readonly type: 'hello'
  /**
   * Required for peers. A client may leave it out when it knows only the token and some
   * replicas' addresses (`kv --endpoints`): it learns the id from the topology it asks for
   * (`discover`) and presents it on every later connection.
   */
  readonly clusterId?: string
  readonly token: string
  readonly role: Role
  /** Required for peers (it names the sender of every later message); optional for clients. */
  readonly nodeId?: string
}

export interface Welcome {
  readonly type: 'welcome'
  readonly nodeId: string
}

export interface Refused {
  readonly type: 'refused'
  readonly reason: string
}

/** A Hello, or the reason the message is not an acceptable one. */
export function parseHello(msg: TransportMessage): Hello | { readonly invalid: string } {
  if (msg.type !== 'hello') return { invalid: `expected hello, got ${JSON.stringify(msg.type)}` }
  const { clusterId, token, role, nodeId } = msg
  if (typeof token !== 'string') return { invalid: 'hello without a string token' }
  if (role !== 'peer' && role !== 'client') return { invalid: 'hello with a role other than peer or client' }
  if (clusterId !== undefined && typeof clusterId !== 'string') return { invalid: 'hello with a non-string clusterId' }
  if (role === 'peer' && clusterId === undefined) return { invalid: 'peer hello without a clusterId' }
  if (nodeId !== undefined && typeof nodeId !== 'string') return { invalid: 'hello with a non-string nodeId' }
  if (role === 'peer' && (nodeId === undefined || nodeId === '')) return { invalid: 'peer hello without a nodeId' }
  return { type: 'hello', ...(clusterId === undefined ? {} : { clusterId }), token, role, ...(nodeId === undefined ? {} : { nodeId }) }
}

/** The credentials a listener accepts: the clients' token, and the replicas' if they have their own. */
export interface Credentials {
  readonly clusterId: string
  /** What clients present. */
  readonly token: string
  /** What peers present; without it, peers present `token` (configs from before the split). */
  readonly peerToken?: string | undefined
}

/**
 * Null when the Hello belongs to this cluster and carries the credential of the role it
 * claims; else why not. A client credential never passes as a peer's. A client hello without a
 * cluster id is judged by its token alone (the token is the secret; the id guards against a
 * config pointed at the wrong cluster, and such a client learns it with its first request).
 */
export function checkCredentials(hello: Hello, credentials: Credentials): string | null {
  if (hello.clusterId !== undefined && hello.clusterId !== credentials.clusterId) return `wrong cluster id ${JSON.stringify(hello.clusterId)}`
  if (hello.clusterId === undefined && hello.role !== 'client') return 'peer hello without a cluster id'

  if (hello.role === 'client') return sameSecret(hello.token, credentials.token) ? null : 'wrong token'
  const peerToken = credentials.peerToken ?? credentials.token
  if (sameSecret(hello.token, peerToken)) return null
  if (credentials.peerToken !== undefined && sameSecret(hello.token, credentials.token)) {
    return 'peer hello with the client token: a client credential cannot join as a replica (peers present peerToken)'
  }
  return 'wrong peer token'
}

/** Constant-time comparison (hashing first makes the lengths equal). */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()
  return timingSafeEqual(digest(a), digest(b))
}

/** The listener's answer, or the reason it is not one. */
export function parseAnswer(msg: TransportMessage): Welcome | Refused | { readonly invalid: string } {
  if (msg.type === 'welcome' && typeof msg.nodeId === 'string') return { type: 'welcome', nodeId: msg.nodeId }
  if (msg.type === 'refused' && typeof msg.reason === 'string') return { type: 'refused', reason: msg.reason }
  return { invalid: `expected welcome or refused, got ${JSON.stringify(msg.type)}` }
}
