import { promises as fsp } from 'node:fs'
import path from 'node:path'

/** Makes a directory entry change (create, rename, unlink) in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Creates `dir` (and parents) and makes its entry durable in its parent. */
export async function ensureDir(dir: string): Promise<void> {
  const created = await fsp.mkdir(dir, { recursive: true })
  if (created === undefined) return
  // Every directory from `dir` up to the parent of the first one created got a new entry.
  const top = path.dirname(path.resolve(created))
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    await fsyncDir(d)
    if (d === top || path.dirname(d) === d) break
  }
}

/** Writes all of `buffers` at `position`, looping over short writes. */
export async function writeAllAt(handle: fsp.FileHandle, buffers: readonly Uint8Array[], position: number): Promise<void> {
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
