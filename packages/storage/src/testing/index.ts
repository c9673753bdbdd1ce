/**
 * `@kv/storage/testing`: a file layer for tests that models power loss (`PowerLossFs`), to hand
 * to `Wal.open(dir, { fs })` and `SnapshotStore.open(dir, { fs })`.
 */
export { PowerLossFs, type PowerCutOptions, type PowerLossFsOptions, type SyncRecord } from './power-loss-fs.js'
export { FsError, type FsErrorCode } from './fs-error.js'
export type { UnsyncedPolicy } from './disk-model.js'
