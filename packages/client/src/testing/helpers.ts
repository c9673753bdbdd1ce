import { createServer } from 'node:net'
import { afterEach, beforeEach } from 'vitest'
import { createClient, type KvClient } from '../client.js'
import type { ClientOptions } from '../options.js'
import { FakeCluster } from './fake-cluster.js'

/** Short bounds so that retry paths run in milliseconds. */
export const fastLimits = { maxAttemptTimeoutMs: 500, connectTimeoutMs: 500, backoffMinMs: 5, backoffMaxMs: 20 } as const

/** For tests that hold answers: no attempt gives up (and retries) while they wait. */
export const patientLimits = { ...fastLimits, maxAttemptTimeoutMs: 5_000 } as const

export function clientFor(cluster: FakeCluster, extra: Partial<Omit<ClientOptions, 'config' | 'endpoints'>> = {}): KvClient {
  return createClient({ config: cluster.config(), timeoutMs: 3_000, limits: fastLimits, ...extra })
}

/** Polls `condition` every 5 ms, at most `maxMs`. */
export async function until(condition: () => boolean, maxMs = 2_000): Promise<void> {
  const rounds = Math.ceil(maxMs / 5)
  for (let i = 0; i < rounds; i++) {
    if (condition()) return
    await new Promise((r) => setTimeout(r, 5))
  }
  throw new Error(`condition not met within ${maxMs} ms`)
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

/**
 * Registers hooks that start a fresh 3-replica fake cluster and a client of it before each
 * test of the enclosing describe, and close both after it.
 */
export function useFakeCluster(set: (cluster: FakeCluster, client: KvClient) => void): void {
  let current: { cluster: FakeCluster; client: KvClient } | null = null
  beforeEach(async () => {
    const cluster = await FakeCluster.start(3)
    current = { cluster, client: clientFor(cluster) }
    set(current.cluster, current.client)
  })
  afterEach(async () => {
    await current?.client.close()
    await current?.cluster.close()
    current = null
  })
}

/** A port nothing listens on: bound by the OS, then released. */
export async function deadPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
