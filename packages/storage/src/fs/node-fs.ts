/** The real file layer: `node:fs/promises`, nothing added (Node's `FileHandle` is the handle). */
import { promises as fsp } from 'node:fs'
import type { FileSystem } from './file-system.js'

export const nodeFileSystem: FileSystem = {
  open: (file, mode) => fsp.open(file, mode),
  readFile: (file) => fsp.readFile(file),
  readdir: (dir) => fsp.readdir(dir),
  mkdirp: (dir) => fsp.mkdir(dir, { recursive: true }),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (file, options) => (options?.missingOk === true ? fsp.rm(file, { force: true }) : fsp.unlink(file)),
  async syncDir(dir) {
    const handle = await fsp.open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  },
}
