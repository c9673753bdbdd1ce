/** The errors `PowerLossFs` throws where the real disk would: Node's shape, so callers handle both alike. */
export type FsErrorCode = 'ENOENT' | 'EEXIST' | 'EISDIR' | 'ENOTDIR' | 'EBADF' | 'EXDEV'

const DESCRIPTIONS: Record<FsErrorCode, string> = {
  ENOENT: 'no such file or directory',
  EEXIST: 'file already exists',
  EISDIR: 'illegal operation on a directory',
  ENOTDIR: 'not a directory',
  EBADF: 'bad file descriptor',
  EXDEV: 'cross-device link not permitted (PowerLossFs renames only within a directory)',
}

export class FsError extends Error {
  readonly code: FsErrorCode
  readonly syscall: string
  readonly path: string
  constructor(code: FsErrorCode, syscall: string, path: string) {
    super(`${code}: ${DESCRIPTIONS[code]}, ${syscall} '${path}'`)
    this.name = 'FsError'
    this.code = code
    this.syscall = syscall
    this.path = path
  }
}
