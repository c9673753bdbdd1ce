/**
 * The in-memory disk under `PowerLossFs`: files and directories that each keep two images, what
 * a reader sees now (the page cache) and what the last sync made durable, plus the changes made
 * since that sync, in order. `survivingTree` is what is left after a power cut.
 */
import type { Rng } from '@kv/consensus'

/** A change to a file's content not yet synced. `bytes` is a copy: the caller may reuse its buffer. */
export type FileChange =
  | { readonly kind: 'write'; readonly offset: number; readonly bytes: Buffer }
  | { readonly kind: 'truncate'; readonly size: number }

/** A change to a directory's entries not yet synced. A rename within the directory is one change (atomic). */
export type DirChange =
  | { readonly kind: 'link'; readonly name: string; readonly node: DiskNode }
  | { readonly kind: 'unlink'; readonly name: string }
  | { readonly kind: 'rename'; readonly from: string; readonly to: string; readonly node: DiskNode }

export type DiskNode = FileNode | DirNode

export class FileNode {
  readonly kind = 'file'
  /** What reads see (the page cache); its length is the file's size. */
  data: Buffer
  /** What survives any power cut: the content as of the last sync. */
  durable: Buffer
  unsynced: FileChange[] = []

  constructor(content: Buffer = Buffer.alloc(0)) {
    this.data = content
    this.durable = Buffer.from(content)
  }

  write(offset: number, bytes: Buffer): void {
    const copy = Buffer.from(bytes)
    this.data = applyChange(this.data, { kind: 'write', offset, bytes: copy })
    this.unsynced.push({ kind: 'write', offset, bytes: copy })
  }

  truncate(size: number): void {
    this.data = applyChange(this.data, { kind: 'truncate', size })
    this.unsynced.push({ kind: 'truncate', size })
  }

  /** fsync / fdatasync: the page cache becomes the durable image. */
  sync(): void {
    this.durable = Buffer.from(this.data)
    this.unsynced = []
  }
}

export class DirNode {
  readonly kind = 'dir'
  /** What lookups see now. */
  readonly entries = new Map<string, DiskNode>()
  /** The entries as of the last fsync of this directory. */
  durable = new Map<string, DiskNode>()
  unsynced: DirChange[] = []

  change(c: DirChange): void {
    applyDirChange(this.entries, c)
    this.unsynced.push(c)
  }

  sync(): void {
    this.durable = new Map(this.entries)
    this.unsynced = []
  }
}

/** What becomes, at a cut, of the changes made since the last sync. */
export type UnsyncedPolicy = 'drop' | 'random'

/**
 * The tree a restarted machine finds: for each directory still reachable through durable (or
 * surviving) entries, its durable entries; for each file, its durable content. With 'random':
 * - per file, half of the time every unsynced write is lost; otherwise the first `k` of them
 *   reached the disk whole (in order, `k` uniform in [0, n]) and the next may be torn: a random
 *   prefix of it is kept, sometimes followed by garbage where the rest should be;
 * - per directory, half of the time every unsynced change is lost; otherwise each one survives
 *   or not on its own (POSIX orders none of them before a sync), a rename whole or not at all.
 * Deterministic for a seed.
 */
export function survivingTree(root: DirNode, rng: Rng, policy: UnsyncedPolicy): DirNode {
  const made = new Map<DiskNode, DiskNode>()
  const survive = (node: DiskNode): DiskNode => {
    const known = made.get(node)
    if (known !== undefined) return known
    if (node.kind === 'file') {
      const file = new FileNode(survivingContent(node, rng, policy))
      made.set(node, file)
      return file
    }
    const dir = new DirNode()
    made.set(node, dir)
    const entries = new Map(node.durable)
    if (policy === 'random' && node.unsynced.length > 0 && rng.chance(0.5)) {
      for (const c of node.unsynced) if (rng.chance(0.5)) applyDirChange(entries, c)
    }
    for (const name of [...entries.keys()].sort()) dir.entries.set(name, survive(entries.get(name)!))
    dir.sync()
    return dir
  }
  return survive(root) as DirNode
}

function survivingContent(file: FileNode, rng: Rng, policy: UnsyncedPolicy): Buffer {
  let content: Buffer = Buffer.from(file.durable)
  const n = file.unsynced.length
  const kept = keptCount(n, rng, policy)
  for (const c of file.unsynced.slice(0, kept)) content = applyChange(content, c)
  const next = file.unsynced[kept]
  if (policy === 'drop' || next?.kind !== 'write' || next.bytes.length === 0 || !rng.chance(0.5)) return content
  // A torn write: some of its bytes reached the disk, then garbage (a half-written sector) or nothing.
  const prefix = rng.int(next.bytes.length)
  const torn = Buffer.from(next.bytes.subarray(0, prefix + (rng.chance(0.5) ? 1 + rng.int(next.bytes.length - prefix) : 0)))
  for (let i = prefix; i < torn.length; i++) torn[i] = rng.int(256)
  return applyChange(content, { kind: 'write', offset: next.offset, bytes: torn })
}

/** How many of `n` unsynced changes reached the disk whole. */
function keptCount(n: number, rng: Rng, policy: UnsyncedPolicy): number {
  if (n === 0 || policy === 'drop' || rng.chance(0.5)) return 0
  return rng.int(n + 1)
}

function applyChange(data: Buffer, c: FileChange): Buffer {
  if (c.kind === 'truncate') {
    if (c.size <= data.length) return data.subarray(0, c.size)
    return Buffer.concat([data, Buffer.alloc(c.size - data.length)])
  }
  const end = c.offset + c.bytes.length
  // Past the end: the file grows, with a hole of zeros before the write if it starts beyond it.
  const out = end <= data.length ? data : Buffer.concat([data, Buffer.alloc(end - data.length)])
  c.bytes.copy(out, c.offset)
  return out
}

function applyDirChange(entries: Map<string, DiskNode>, c: DirChange): void {
  switch (c.kind) {
    case 'link':
      entries.set(c.name, c.node)
      return
    case 'unlink':
      entries.delete(c.name)
      return
    case 'rename':
      entries.delete(c.from)
      entries.set(c.to, c.node)
      return
  }
}
