import { entryBytes, type ByteBounds } from '../sizes.js'
import { isSnapshotChunk } from '../snapshot-transfer.js'
import type { Entry, NodeId, PeerMessage, Ready } from '../types.js'
import type { Fail } from './checker.js'

/** A message carrying a snapshot chunk, whatever the core calls it. */
export function isChunkMessage(message: PeerMessage): boolean {
  return isSnapshotChunk(message as unknown as Record<string, unknown>, Infinity, Infinity)
}

/** A Ready hands out no more bytes to persist or to apply than configured (one entry at least). */
export function checkReadyBounds(bounds: ByteBounds, node: NodeId, ready: Ready, fail: Fail): void {
  const parts = [
    ['entries', ready.entries, bounds.maxPersistBytesPerReady],
    ['committed', ready.committed, bounds.maxApplyBytesPerReady],
  ] as const
  for (const [what, list, bound] of parts) {
    if (bound === undefined || list.length <= 1) continue
    const bytes = list.reduce((n, e) => n + entryBytes(e), 0)
    if (bytes > bound) fail('invariant', [node], `${node}'s Ready hands out ${list.length} ${what} of ${bytes} bytes, above the bound ${bound}`)
  }
}

/** A message the core sends stays within the byte bounds it was configured with. */
export function checkMessageBounds(bounds: ByteBounds, node: NodeId, message: PeerMessage, fail: Fail): void {
  const chunkBound = bounds.maxSnapshotChunkBytes
  const chunkBytes = isChunkMessage(message) ? (message as unknown as { data: Uint8Array }).data.length : 0
  if (chunkBound !== undefined && chunkBytes > chunkBound) {
    fail('invariant', [node], `${node} sent a ${message.type} chunk of ${chunkBytes} bytes, above maxSnapshotChunkBytes ${chunkBound}`)
  }
  const bound = bounds.maxBytesPerMessage
  if (bound === undefined) return
  for (const field of ['entries', 'accepted']) {
    const list = (message as unknown as Record<string, unknown>)[field]
    if (!Array.isArray(list) || list.length <= 1) continue
    const bytes = (list as Entry[]).reduce((n, e) => n + entryBytes(e), 0)
    if (bytes > bound) fail('invariant', [node], `${node} sent a ${message.type} with ${list.length} entries of ${bytes} bytes, above maxBytesPerMessage ${bound}`)
  }
}
