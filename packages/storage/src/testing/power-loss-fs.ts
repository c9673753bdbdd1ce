/**
 * A file system in memory that knows what a power cut would keep: per file, the content as of
 * its last fsync/fdatasync; per directory, the entries as of its last fsync. Everything else is
 * the page cache. `powerCut(rng)` turns the machine off and returns the machine restarted: a new
 * `PowerLossFs` holding only what survived (unsynced changes dropped, or a random prefix of them
 * kept with the last one torn; see `survivingTree`). Open the WAL again on it to see what
 * recovery makes of that image.
 *
 *   const disk = new PowerLossFs()
 *   const { wal } = await Wal.open('/wal', { fs: disk })
 *   disk.cutPowerAfter(7)                    // the 8th file operation from now finds the power off
 *   ...                                      // everything from then on rejects with POWER_LOST
 *   const after = disk.powerCut(createRng(seed))
 *   const reopened = await Wal.open('/wal', { fs: after })
 *
 * Operations complete in a microtask and are counted (`operations`), so a cut after the n-th one
 * lands at the same point of the same program every time: a seed replays a failure exactly.
 */
import path from 'node:path'
import type { Rng } from '@kv/consensus'
import { StorageError } from '../errors.js'
import type { FileHandle, FileSystem, OpenMode } from '../fs/file-system.js'
import { DirNode, FileNode, survivingTree, type DiskNode, type UnsyncedPolicy } from './disk-model.js'
import { FsError } from './fs-error.js'

export interface PowerLossFsOptions {
  /** One `writev` writes at most this many bytes (a short write), to exercise the callers' loops. */
  readonly maxWriteBytes?: number
}

export interface PowerCutOptions {
  /**
   * What becomes of changes not yet synced. 'random' (default): per file and directory, all are
   * lost half of the time, else an in-order prefix of them reached the disk and the next write
   * may be torn (a prefix of it kept, possibly followed by garbage). 'drop': all are lost, none torn.
   */
  readonly unsynced?: UnsyncedPolicy
}

/** One sync the file system performed, with the path the file was opened by. */
export interface SyncRecord {
  readonly call: 'datasync' | 'fsync' | 'syncDir'
  readonly path: string
}

export class PowerLossFs implements FileSystem {
  private root = new DirNode()
  private poweredOff = false
  private operationsLeft = Number.POSITIVE_INFINITY
  /** Operations run so far: every call of this object and of the handles it gave out. */
  operations = 0
  /** Every sync performed, in order. */
  readonly syncLog: SyncRecord[] = []

  constructor(private readonly options: PowerLossFsOptions = {}) {
    const max = options.maxWriteBytes
    if (max !== undefined && (!Number.isSafeInteger(max) || max < 1)) {
      throw new StorageError('BAD_ARGUMENT', `maxWriteBytes must be an integer >= 1, got ${max}`)
    }
  }

  /** False once the power is off (by `cutPowerAfter` running out, or `powerCut`). */
  get powerIsOn(): boolean {
    return !this.poweredOff
  }

  /**
   * Lets `n` more operations run; the one after them, and every later one, rejects with
   * POWER_LOST. Replaces an earlier call's count; `Infinity` calls the cut off.
   */
  cutPowerAfter(n: number): void {
    const ok = n === Number.POSITIVE_INFINITY || (Number.isSafeInteger(n) && n >= 0)
    if (!ok) throw new StorageError('BAD_ARGUMENT', `cutPowerAfter(${n}): need an integer >= 0 or Infinity`)
    this.operationsLeft = n
  }

  /**
   * Turns the power off (if `cutPowerAfter` did not already) and returns the machine after it is
   * switched back on: a new file system over what survived. This one stays off for good, so a
   * WAL still running on it can never write into the new image.
   */
  powerCut(rng: Rng, options: PowerCutOptions = {}): PowerLossFs {
    this.poweredOff = true
    const next = new PowerLossFs(this.options)
    next.root = survivingTree(this.root, rng, options.unsynced ?? 'random')
    return next
  }

  /** Syncs performed of one kind, optionally only on paths that `match` accepts. */
  syncCount(call: SyncRecord['call'], match: (file: string) => boolean = () => true): number {
    return this.syncLog.filter((s) => s.call === call && match(s.path)).length
  }

  open(file: string, mode: OpenMode): Promise<FileHandle> {
    return this.op(() => {
      const { dir, name, full } = this.parent(file, 'open')
      let node = dir.entries.get(name)
      if (node?.kind === 'dir') throw new FsError('EISDIR', 'open', full)
      if (node === undefined) {
        if (mode === 'r+') throw new FsError('ENOENT', 'open', full)
        node = new FileNode()
        dir.change({ kind: 'link', name, node })
      } else if (mode === 'w') {
        node.truncate(0)
      }
      const machine: Machine = { op: (body) => this.op(body), synced: (record) => this.syncLog.push(record) }
      return new PowerLossHandle(machine, node, full, this.options.maxWriteBytes ?? Number.POSITIVE_INFINITY)
    })
  }

  readFile(file: string): Promise<Buffer> {
    return this.op(() => {
      const node = this.lookup(file, 'open')
      if (node.kind === 'dir') throw new FsError('EISDIR', 'read', path.resolve(file))
      return Buffer.from(node.data)
    })
  }

  readdir(dir: string): Promise<string[]> {
    return this.op(() => {
      const node = this.lookup(dir, 'scandir')
      if (node.kind !== 'dir') throw new FsError('ENOTDIR', 'scandir', path.resolve(dir))
      return [...node.entries.keys()]
    })
  }

  mkdirp(dir: string): Promise<string | undefined> {
    return this.op(() => {
      let at: DirNode = this.root
      let current = '/'
      let firstCreated: string | undefined
      for (const part of components(dir)) {
        current = path.join(current, part)
        let next = at.entries.get(part)
        if (next === undefined) {
          next = new DirNode()
          at.change({ kind: 'link', name: part, node: next })
          firstCreated ??= current
        }
        if (next.kind !== 'dir') throw new FsError('ENOTDIR', 'mkdir', current)
        at = next
      }
      return firstCreated
    })
  }

  rename(from: string, to: string): Promise<void> {
    return this.op(() => {
      const src = this.parent(from, 'rename')
      const dst = this.parent(to, 'rename')
      if (src.dir !== dst.dir) throw new FsError('EXDEV', 'rename', src.full)
      const node = src.dir.entries.get(src.name)
      if (node === undefined) throw new FsError('ENOENT', 'rename', src.full)
      if (dst.dir.entries.get(dst.name)?.kind === 'dir') throw new FsError('EISDIR', 'rename', dst.full)
      if (src.name !== dst.name) src.dir.change({ kind: 'rename', from: src.name, to: dst.name, node })
    })
  }

  unlink(file: string, options: { readonly missingOk?: boolean } = {}): Promise<void> {
    return this.op(() => {
      if (options.missingOk === true && this.find(file) === undefined) return
      const { dir, name, full } = this.parent(file, 'unlink')
      const node = dir.entries.get(name)
      if (node === undefined) throw new FsError('ENOENT', 'unlink', full)
      if (node.kind === 'dir') throw new FsError('EISDIR', 'unlink', full)
      dir.change({ kind: 'unlink', name })
    })
  }

  syncDir(dir: string): Promise<void> {
    return this.op(() => {
      const node = this.lookup(dir, 'open')
      if (node.kind !== 'dir') throw new FsError('ENOTDIR', 'fsync', path.resolve(dir))
      node.sync()
      this.syncLog.push({ call: 'syncDir', path: path.resolve(dir) })
    })
  }

  /**
   * Every operation runs through here: counted, refused once the power is off, and settled in a
   * microtask (as a resolved or rejected promise, never a synchronous throw).
   */
  private op<T>(body: () => T): Promise<T> {
    try {
      if (!this.poweredOff && this.operationsLeft === 0) this.poweredOff = true
      if (this.poweredOff) throw new StorageError('POWER_LOST', 'the power is off: nothing reaches this disk any more')
      this.operationsLeft--
      this.operations++
      return Promise.resolve(body())
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)))
    }
  }

  private lookup(file: string, syscall: string): DiskNode {
    let node: DiskNode = this.root
    for (const part of components(file)) {
      const next: DiskNode | undefined = node.kind === 'dir' ? node.entries.get(part) : undefined
      if (next === undefined) throw new FsError(node.kind === 'dir' ? 'ENOENT' : 'ENOTDIR', syscall, path.resolve(file))
      node = next
    }
    return node
  }

  /** The node at `file`, or undefined when any part of the path is missing. */
  private find(file: string): DiskNode | undefined {
    let node: DiskNode | undefined = this.root
    for (const part of components(file)) node = node?.kind === 'dir' ? node.entries.get(part) : undefined
    return node
  }

  /** The directory that holds `file` (it must exist), and the name in it. */
  private parent(file: string, syscall: string): { dir: DirNode; name: string; full: string } {
    const full = path.resolve(file)
    const name = path.basename(full)
    if (name === '') throw new FsError('EISDIR', syscall, full)
    const dir = this.lookup(path.dirname(full), syscall)
    if (dir.kind !== 'dir') throw new FsError('ENOTDIR', syscall, full)
    return { dir, name, full }
  }
}

/** What a handle needs of its file system. */
interface Machine {
  op<T>(body: () => T): Promise<T>
  synced(record: SyncRecord): void
}

class PowerLossHandle implements FileHandle {
  private closed = false

  constructor(
    private readonly machine: Machine,
    private readonly node: FileNode,
    private readonly file: string,
    private readonly maxWriteBytes: number,
  ) {}

  writev(buffers: readonly Uint8Array[], position: number): Promise<{ readonly bytesWritten: number }> {
    return this.op('write', () => {
      let at = position
      for (const b of buffers) {
        const room = this.maxWriteBytes - (at - position)
        if (room <= 0) break
        const part = Buffer.from(b.buffer, b.byteOffset, Math.min(b.length, room))
        this.node.write(at, part)
        at += part.length
      }
      return { bytesWritten: at - position }
    })
  }

  datasync(): Promise<void> {
    return this.op('fdatasync', () => {
      this.node.sync()
      this.machine.synced({ call: 'datasync', path: this.file })
    })
  }

  sync(): Promise<void> {
    return this.op('fsync', () => {
      this.node.sync()
      this.machine.synced({ call: 'fsync', path: this.file })
    })
  }

  close(): Promise<void> {
    return this.op('close', () => {
      this.closed = true
    })
  }

  private op<T>(syscall: string, body: () => T): Promise<T> {
    return this.machine.op(() => {
      if (this.closed) throw new FsError('EBADF', syscall, this.file)
      return body()
    })
  }
}

function components(p: string): string[] {
  return path.resolve(p).split('/').filter((part) => part.length > 0)
}
