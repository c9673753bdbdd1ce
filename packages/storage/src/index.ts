export { Wal, type WalOpenResult, type WalOptions, type WalRecovery, type WalStats } from './wal/wal.js'
export type { WalBatch } from './wal/batch.js'
export type { WalState } from './wal/log-image.js'
export { readWalReadOnly, type WalReading } from './wal/read-only.js'
export type { SnapshotMeta } from './wal/record.js'
export { SnapshotStore, type SnapshotFile, type SnapshotStoreOptions } from './snapshot-store.js'
export { nodeFileSystem } from './fs/node-fs.js'
export type { FileHandle, FileSystem, OpenMode } from './fs/file-system.js'
export { StateStore, type StateOp, type StateStoreOptions, type StateView, type TableContents } from './state-store.js'
export {
  DurableReplicaStorage,
  type DurableReplicaStorageOptions,
  type OpenedReplicaStorage,
} from './durable-storage.js'
export { StorageError, WalCorruptError, WrongClusterError, WrongReplicaError, type StorageErrorCode } from './errors.js'
export * as limits from './limits.js'
export { loadMachine, mirrorMachine, type MirroredMachine } from './state-mirror.js'
