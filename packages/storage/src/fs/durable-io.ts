/** Steps the WAL and the snapshot store share, written once over the `FileSystem` seam. */
import path from 'node:path'
import type { FileHandle, FileSystem } from './file-system.js'

/** Creates `dir` (and parents) and makes its entry durable in its parent. */
export async function ensureDir(fs: FileSystem, dir: string): Promise<void> {
  const created = await fs.mkdirp(dir)
  if (created === undefined) return
  // Every directory from `dir` up to the parent of the first one created got a new entry.
  const top = path.dirname(path.resolve(created))
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    await fs.syncDir(d)
    if (d === top || path.dirname(d) === d) break
  }
}

/** Writes all of `buffers` at `position`, looping over short writes. */
export async function writeAllAt(handle: FileHandle, buffers: readonly Uint8Array[], position: number): Promise<void> {
  let pending = buffers.filter((b) => b.length > 0)
  let at = position
  while (pending.length > 0) {
    const { bytesWritten } = await handle.writev(pending, at)
    at += bytesWritten
    pending = dropBytes(pending, bytesWritten)
  }
}

function dropBytes(buffers: readonly Uint8Array[], count: number): Uint8Array[] {
  const rest: Uint8Array[] = []
  let skip = count
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length
      continue
    }
    rest.push(skip > 0 ? b.subarray(skip) : b)
    skip = 0
  }
  return rest
}

/**
 * `handle`, with every `datasync`/`sync` that the file layer completed counted in `counter.syncs`.
 * The count lives at the layer, not beside the call: a caller that forgot or skipped a sync
 * cannot report one (`Wal.stats().syncs`). Writes pass straight through.
 */
export function countingSyncs(handle: FileHandle, counter: { syncs: number }): FileHandle {
  return {
    writev: (buffers, position) => handle.writev(buffers, position),
    datasync: () => handle.datasync().then(() => void counter.syncs++),
    sync: () => handle.sync().then(() => void counter.syncs++),
    close: () => handle.close(),
  }
}
