/**
 * Micro-benchmark of the storage write path (figures, not pass/fail).
 *
 *   node --import tsx packages/storage/bench/wal.bench.ts        (from the repo root)
 *   env: WRITERS (64), ENTRY_BYTES (100), ENTRIES_PER_WRITE (1), BENCH_SECONDS (5)
 *
 * 1. WAL: WRITERS concurrent loops, each `await wal.write({ entries })` of ENTRIES_PER_WRITE
 *    entries of ENTRY_BYTES; group commit coalesces them. Prints writes/s, syncs/s, p50/p99.
 * 2. LMDB: StateStore.applyBatch of 64 ops of ENTRY_BYTES per batch, then one flush().
 * Compare with DESIGN.md's "write path and storage" table (~28,600 writes/s, p99 7.7 ms for a
 * 3-process replicated path with one fdatasync per batch on the same machine).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Entry } from '@kv/consensus'
import { StateStore, Wal } from '../src/index.js'

const WRITERS = Number(process.env.WRITERS ?? 64)
const ENTRY_BYTES = Number(process.env.ENTRY_BYTES ?? 100)
const ENTRIES_PER_WRITE = Number(process.env.ENTRIES_PER_WRITE ?? 1)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

async function benchWal(dir: string): Promise<void> {
  const { wal } = await Wal.open(path.join(dir, 'wal'))
  const payload = new Uint8Array(ENTRY_BYTES).fill(7)
  let nextIndex = 1
  const latenciesMs: number[] = []
  const deadline = performance.now() + SECONDS * 1000
  const syncsBefore = wal.stats().syncs
  const started = performance.now()
  async function writer(): Promise<void> {
    while (performance.now() < deadline) {
      const entries: Entry[] = []
      for (let i = 0; i < ENTRIES_PER_WRITE; i++) entries.push({ type: 'normal', index: nextIndex++, term: 1, data: payload })
      const t0 = performance.now()
      await wal.write({ entries })
      latenciesMs.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: WRITERS }, writer))
  const elapsedS = (performance.now() - started) / 1000
  const syncs = wal.stats().syncs - syncsBefore
  const sorted = Float64Array.from(latenciesMs).sort()
  console.log(
    `WAL  writers=${WRITERS} entry=${ENTRY_BYTES}B entries/write=${ENTRIES_PER_WRITE}: ` +
      `${Math.round(latenciesMs.length / elapsedS)} writes/s, ${Math.round(syncs / elapsedS)} syncs/s, ` +
      `${(latenciesMs.length / syncs).toFixed(1)} writes/sync, p50 ${percentile(sorted, 50).toFixed(2)} ms, ` +
      `p99 ${percentile(sorted, 99).toFixed(2)} ms`,
  )
  await wal.close()
}

async function benchLmdb(dir: string): Promise<void> {
  const store = await StateStore.open(path.join(dir, 'state'), { clusterId: 'bench' })
  const value = new Uint8Array(ENTRY_BYTES).fill(3)
  const OPS_PER_BATCH = 64
  let applied = 0
  const deadline = performance.now() + SECONDS * 1000
  const started = performance.now()
  while (performance.now() < deadline) {
    const pending: Promise<void>[] = []
    // As a replica would: one batch per Ready, many Readys before anything waits for a commit.
    for (let b = 0; b < 50; b++) {
      applied++
      const ops = Array.from({ length: OPS_PER_BATCH }, (_, i) => ({ table: 'kv', key: `key-${(applied * OPS_PER_BATCH + i) % 100_000}`, value }))
      pending.push(store.applyBatch(applied, ops))
    }
    await Promise.all(pending)
  }
  const committedS = (performance.now() - started) / 1000
  const t0 = performance.now()
  const durable = await store.flush()
  const flushMs = performance.now() - t0
  console.log(
    `LMDB applyBatch (${OPS_PER_BATCH} puts of ${ENTRY_BYTES}B, overlapping sync): ` +
      `${Math.round(applied / committedS)} batches/s = ${Math.round((applied * OPS_PER_BATCH) / committedS)} puts/s; ` +
      `final flush() ${flushMs.toFixed(1)} ms, durable applied index ${durable}`,
  )
  await store.close()
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'kv-storage-bench-'))
try {
  await benchWal(dir)
  await benchLmdb(dir)
} finally {
  await rm(dir, { recursive: true, force: true })
}
