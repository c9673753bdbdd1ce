/**
 * Reads a write-ahead log without opening it for writing: no recovery, no truncation, no lock.
 * For tools (`kv log`) that look at the log of a replica that may be running: a record being
 * appended at that moment reads as a torn tail, reported, never cut.
 */
import path from 'node:path'
import { nodeFileSystem } from '../fs/node-fs.js'
import type { FileSystem } from '../fs/file-system.js'
import { LogImage, type WalState } from './log-image.js'
import { listSegments, scanSegment } from './segment.js'

export interface WalReading extends WalState {
  /** Segments read, oldest first. */
  readonly segments: readonly string[]
  /** Set when the last segment ends in bytes that are not a whole record (a write under way, or torn). */
  readonly tornTail: { readonly segment: string; readonly offset: number; readonly reason: string } | null
}

/** The log in `walDir` (a replica's `<data>/wal`), as replaying it would give. */
export async function readWalReadOnly(walDir: string, fs: FileSystem = nodeFileSystem): Promise<WalReading> {
  const image = new LogImage()
  const segments = await listSegments(fs, walDir)
  let tornTail: WalReading['tornTail'] = null
  for (const info of segments) {
    const scan = scanSegment(info.name, await fs.readFile(path.join(walDir, info.name)))
    for (const record of scan.records) image.apply(record)
    if (scan.torn !== null) tornTail = { segment: info.name, offset: scan.torn.offset, reason: scan.torn.reason }
  }
  return { ...image.state(), segments: segments.map((s) => s.name), tornTail }
}
