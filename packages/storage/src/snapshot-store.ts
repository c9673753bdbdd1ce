/**
 * The latest snapshot as a file, replaced atomically and durably: write a temp file, fsync it,
 * rename it into place, fsync the directory. A reader sees the old snapshot or the new one,
 * never a mix, whatever the moment of a crash.
 *
 * File `<index:16 hex>-<term:16 hex>.snap`:
 *   magic "KVSNAP02" | index u64 LE | term u64 LE | body length u64 LE | crc32 u32 LE | body
 *   body = meta length u32 LE | meta | data
 * `meta` is MessagePack of the snapshot's membership fields (`membership`, `membershipIndex`,
 * `previousMembership`, `memberContexts`): a replica restarted from the file knows its group
 * and where its members live. The CRC-32 covers the 32 header bytes before it and the body.
 * Files written before membership changes ("KVSNAP01": the body is the data alone) still read.
 */
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { isMemberContexts, isMembership, membershipFields, type Snapshot } from '@kv/consensus'
import { Packr } from 'msgpackr'
import { StorageError } from './errors.js'
import { ensureDir, writeAllAt } from './fs/durable-io.js'
import type { FileSystem } from './fs/file-system.js'
import { nodeFileSystem } from './fs/node-fs.js'
import { SNAPSHOT_MAX_BYTES } from './limits.js'

const MAGIC = Buffer.from('KVSNAP02', 'latin1')
const MAGIC_V1 = Buffer.from('KVSNAP01', 'latin1')
const HEADER_BYTES = 36
const META_LENGTH_BYTES = 4
const meta = new Packr({ useRecords: false, moreTypes: false })
const SNAPSHOT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/

export interface SnapshotFile {
  readonly index: number
  readonly term: number
  readonly name: string
}

export interface SnapshotStoreOptions {
  /** The file layer the snapshot files live on. Default: the real disk (`nodeFileSystem`). */
  readonly fs?: FileSystem
}

export class SnapshotStore {
  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
  ) {}

  /** Opens (creating) the directory and removes temp files left by a crash mid-save. */
  static async open(dir: string, options: SnapshotStoreOptions = {}): Promise<SnapshotStore> {
    const fs = options.fs ?? nodeFileSystem
    await ensureDir(fs, dir)
    for (const name of await fs.readdir(dir)) {
      if (name.startsWith('.tmp-')) await fs.unlink(path.join(dir, name), { missingOk: true })
    }
    return new SnapshotStore(fs, dir)
  }

  /** Stores `snapshot` durably; resolves once it would survive a crash. Keeps older files (see `pruneExcept`). */
  async save(snapshot: Snapshot): Promise<void> {
    checkSnapshot(snapshot)
    const tmp = path.join(this.dir, `.tmp-${randomBytes(6).toString('hex')}`)
    const handle = await this.fs.open(tmp, 'w')
    try {
      const metaBytes = encodeMeta(snapshot)
      await writeAllAt(handle, [header(snapshot, metaBytes), metaBytes, snapshot.data], 0)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await this.fs.rename(tmp, path.join(this.dir, fileName(snapshot.index, snapshot.term)))
    await this.fs.syncDir(this.dir)
  }

  /** The newest snapshot (highest index, then term), or null when there is none. */
  async load(): Promise<Snapshot | null> {
    const newest = (await this.list()).at(-1)
    return newest === undefined ? null : this.read(newest)
  }

  /** The snapshot with exactly this index and term, or null. */
  async loadAt(index: number, term: number): Promise<Snapshot | null> {
    const file = (await this.list()).find((f) => f.index === index && f.term === term)
    return file === undefined ? null : this.read(file)
  }

  /** Snapshot files, oldest first. */
  async list(): Promise<SnapshotFile[]> {
    const files: SnapshotFile[] = []
    for (const name of await this.fs.readdir(this.dir)) {
      const m = SNAPSHOT_NAME.exec(name)
      if (m?.[1] === undefined || m[2] === undefined) continue
      files.push({ index: parseInt(m[1], 16), term: parseInt(m[2], 16), name })
    }
    return files.sort((a, b) => a.index - b.index || a.term - b.term)
  }

  /**
   * Deletes every snapshot but the one at (`index`, `term`) and, if `keepOlder`, the newest one
   * below it. The caller names the snapshot its WAL marker points at, so that one never goes.
   */
  async pruneExcept(index: number, term: number, keepOlder = true): Promise<void> {
    const files = await this.list()
    const older = files.filter((f) => f.index < index || (f.index === index && f.term < term)).at(-1)
    let removed = false
    for (const f of files) {
      if ((f.index === index && f.term === term) || (keepOlder && f === older)) continue
      await this.fs.unlink(path.join(this.dir, f.name), { missingOk: true })
      removed = true
    }
    if (removed) await this.fs.syncDir(this.dir)
  }

  private async read(file: SnapshotFile): Promise<Snapshot> {
    const buf = await this.fs.readFile(path.join(this.dir, file.name))
    const corrupt = (why: string) => new StorageError('SNAPSHOT_CORRUPT', `snapshot ${file.name}: ${why}`)
    const v1 = buf.length >= HEADER_BYTES && buf.subarray(0, 8).equals(MAGIC_V1)
    if (buf.length < HEADER_BYTES || (!v1 && !buf.subarray(0, 8).equals(MAGIC))) throw corrupt('bad header')
    const index = Number(buf.readBigUInt64LE(8))
    const term = Number(buf.readBigUInt64LE(16))
    const length = Number(buf.readBigUInt64LE(24))
    if (length !== buf.length - HEADER_BYTES) throw corrupt(`length ${length} but ${buf.length - HEADER_BYTES} body bytes`)
    const body = buf.subarray(HEADER_BYTES)
    if (crc32(body, crc32(buf.subarray(0, 32))) !== buf.readUInt32LE(32)) throw corrupt('checksum mismatch')
    if (index !== file.index || term !== file.term) throw corrupt('name and header disagree')
    if (v1) return { index, term, data: new Uint8Array(body) }
    if (body.length < META_LENGTH_BYTES) throw corrupt('no room for the membership fields')
    const metaLength = body.readUInt32LE(0)
    if (metaLength > body.length - META_LENGTH_BYTES) throw corrupt(`membership fields of ${metaLength} bytes overrun the file`)
    const fields = decodeMeta(body.subarray(META_LENGTH_BYTES, META_LENGTH_BYTES + metaLength))
    if (fields === null) throw corrupt('membership fields malformed')
    return { index, term, data: new Uint8Array(body.subarray(META_LENGTH_BYTES + metaLength)), ...fields }
  }
}

function checkSnapshot(s: Snapshot): void {
  const ok = (n: number) => Number.isSafeInteger(n) && n >= 0
  if (!ok(s.index) || !ok(s.term)) throw new StorageError('BAD_ARGUMENT', 'snapshot index and term must be integers >= 0')
  if (!(s.data instanceof Uint8Array)) throw new StorageError('BAD_ARGUMENT', 'snapshot data must be a Uint8Array')
  if (s.data.length > SNAPSHOT_MAX_BYTES) throw new StorageError('BAD_ARGUMENT', `snapshot of ${s.data.length} bytes exceeds ${SNAPSHOT_MAX_BYTES}`)
}

function fileName(index: number, term: number): string {
  return `${index.toString(16).padStart(16, '0')}-${term.toString(16).padStart(16, '0')}.snap`
}

/** The meta length and the MessagePack of the snapshot's membership fields. */
function encodeMeta(s: Snapshot): Buffer {
  const packed = meta.pack(membershipFields(s))
  const out = Buffer.alloc(META_LENGTH_BYTES + packed.length)
  out.writeUInt32LE(packed.length, 0)
  packed.copy(out, META_LENGTH_BYTES)
  return out
}

type MembershipFields = ReturnType<typeof membershipFields>

function decodeMeta(bytes: Buffer): MembershipFields | null {
  let m: unknown
  try {
    m = meta.unpack(bytes)
  } catch {
    return null
  }
  if (typeof m !== 'object' || m === null) return null
  const f = m as Record<string, unknown>
  const index = f['membershipIndex']
  if (f['membership'] !== undefined && !isMembership(f['membership'])) return null
  if (f['previousMembership'] !== undefined && !isMembership(f['previousMembership'])) return null
  if (index !== undefined && !(typeof index === 'number' && Number.isSafeInteger(index) && index >= 0)) return null
  if (f['memberContexts'] !== undefined && !isMemberContexts(f['memberContexts'])) return null
  const contexts = f['memberContexts'] as Record<string, Uint8Array> | undefined
  return membershipFields({
    ...(f['membership'] === undefined ? {} : { membership: f['membership'] }),
    ...(index === undefined ? {} : { membershipIndex: index }),
    ...(f['previousMembership'] === undefined ? {} : { previousMembership: f['previousMembership'] }),
    // Plain Uint8Arrays, as the snapshot was handed in (msgpackr decodes bytes to Buffers).
    ...(contexts === undefined ? {} : { memberContexts: Object.fromEntries(Object.entries(contexts).map(([id, c]) => [id, new Uint8Array(c)])) }),
  })
}

function header(s: Snapshot, metaBytes: Uint8Array): Buffer {
  const h = Buffer.alloc(HEADER_BYTES)
  MAGIC.copy(h, 0)
  h.writeBigUInt64LE(BigInt(s.index), 8)
  h.writeBigUInt64LE(BigInt(s.term), 16)
  h.writeBigUInt64LE(BigInt(metaBytes.length + s.data.length), 24)
  h.writeUInt32LE(crc32(s.data, crc32(metaBytes, crc32(h.subarray(0, 32)))), 32)
  return h
}
