/**
 * The file layer under the WAL and the snapshot store: every open, write, sync, rename, unlink
 * and directory listing they do goes through one `FileSystem`, so that a test can put a
 * power-loss model (`@kv/storage/testing`'s `PowerLossFs`) where the disk would be.
 *
 * The durability contract an implementation keeps (POSIX, and what the callers rely on):
 * - A write is in the page cache until `datasync()` or `sync()` of *that file* returned; a power
 *   cut may lose it, or keep any prefix of it.
 * - A directory entry change (a file created, renamed or unlinked) is durable only once
 *   `syncDir()` of the directory that holds it returned. A rename is atomic: after a cut the file
 *   is under its old name or its new one.
 * - Errors are Node's (`code` 'ENOENT', 'EEXIST', ...), so callers handle both layers alike.
 *
 * The shapes are a subset of `node:fs/promises`, so the real layer hands out Node's own
 * `FileHandle` unchanged: the write path costs nothing extra for the seam.
 */

/** 'r+': an existing file, read and write. 'w': created, or truncated if it exists. */
export type OpenMode = 'r+' | 'w'

export interface FileHandle {
  /** pwritev(2): may write fewer bytes than given (see `writeAllAt`). */
  writev(buffers: readonly Uint8Array[], position: number): Promise<{ readonly bytesWritten: number }>
  /** fdatasync(2): this file's data (and the size, if it changed) are durable when it resolves. */
  datasync(): Promise<void>
  /** fsync(2): as `datasync`, and every other metadata of the file. */
  sync(): Promise<void>
  close(): Promise<void>
}

export interface FileSystem {
  open(file: string, mode: OpenMode): Promise<FileHandle>
  readFile(file: string): Promise<Buffer>
  /** Entry names in `dir` (no '.' or '..'), in no particular order. */
  readdir(dir: string): Promise<string[]>
  /** `mkdir -p`: resolves to the first directory it created, or undefined if `dir` existed. */
  mkdirp(dir: string): Promise<string | undefined>
  /** rename(2); callers only rename within one directory. */
  rename(from: string, to: string): Promise<void>
  /** unlink(2); with `missingOk`, a file that is not there is no error. */
  unlink(file: string, options?: { readonly missingOk?: boolean }): Promise<void>
  /** fsync(2) of a directory: makes the creates, renames and unlinks in it durable. */
  syncDir(dir: string): Promise<void>
}
