/**
 * Micro-benchmark of ring lookups (figures, not pass/fail; not part of the test suite).
 *
 *   node --import tsx packages/hashring/bench/lookup.bench.ts        (from the repo root)
 *   env: KEYS (100000), BENCH_SECONDS (2), VNODES (128)
 *
 * For 4 and 16 groups × VNODES vnodes, over KEYS pre-generated keys (`user:<i>:<random hex>`,
 * 14..22 ASCII characters, and a second set with a non-ASCII character in each):
 * 1. ownerOf(key): hashKey + binary search, the whole lookup a router does.
 * 2. ownerOfHash(hash) alone, over the keys' pre-computed hashes.
 * 3. hashKey(key) alone.
 * Each is run for BENCH_SECONDS after a warm-up pass; prints lookups per second of wall time
 * and per second of the process's CPU time (the two differ when other work shares the cores).
 * 100,000 keys (~5 MB of strings) stay in cache like the keys a server has just decoded; with
 * KEYS=1000000 the sweep also measures memory latency.
 */
import { HashRing, hashKey } from '../src/index.js'

const KEYS = Number(process.env.KEYS ?? 100_000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2)
const VNODES = Number(process.env.VNODES ?? 128)

/** A small xorshift generator, so the keys are the same on every run. */
function xorshift(seed: number): () => number {
  let x = seed | 0 || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return x >>> 0
  }
}

/**
 * Keys as a server sees them: decoded from UTF-8 bytes, hence flat strings (a template literal
 * would leave V8 cons strings, which every charCodeAt must walk through).
 */
function makeKeys(count: number, accent: string): string[] {
  const next = xorshift(42)
  const encoder = new TextEncoder()
  const decoder = new TextDecoder()
  return Array.from({ length: count }, (_, i) => decoder.decode(encoder.encode(`user${accent}:${i}:${next().toString(16)}`)))
}

interface Rate {
  /** Operations per second of wall-clock time. */
  readonly wall: number
  /** Operations per second of this process's CPU time (steadier on a shared machine). */
  readonly cpu: number
}

/** Runs `pass` (one sweep over all keys, returning a checksum) for SECONDS. */
function measure(pass: () => number): Rate {
  let sink = pass() // warm-up, and lets the JIT settle
  let sweeps = 0
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const deadline = started + SECONDS * 1000
  while (performance.now() < deadline) {
    sink ^= pass()
    sweeps++
  }
  const elapsedS = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  const cpuS = (cpu.user + cpu.system) / 1e6
  if (sink === 0.5) console.log('unreachable', sink) // keeps the checksum alive
  return { wall: (sweeps * KEYS) / elapsedS, cpu: (sweeps * KEYS) / cpuS }
}

function rate({ wall, cpu }: Rate): string {
  return `${(wall / 1e6).toFixed(1)} M/s (${(cpu / 1e6).toFixed(1)} M/CPU-s)`
}

for (const [label, accent] of [
  ['ASCII keys', ''],
  ['keys with é', 'é'],
] as const) {
  const keys = makeKeys(KEYS, accent)
  const hashes = Uint32Array.from(keys, hashKey)
  const hashOnly = measure(() => {
    let sum = 0
    for (const key of keys) sum = (sum + hashKey(key)) | 0
    return sum
  })
  console.log(`${label}, ${KEYS} keys: hashKey ${rate(hashOnly)}`)
  for (const groupCount of [4, 16]) {
    const ring = new HashRing({ groups: Array.from({ length: groupCount }, (_, k) => `g${k + 1}`), vnodesPerGroup: VNODES })
    const ownerOf = measure(() => {
      let sum = 0
      for (const key of keys) sum += ring.ownerOf(key).length
      return sum
    })
    const ownerOfHash = measure(() => {
      let sum = 0
      for (const hash of hashes) sum += ring.ownerOfHash(hash).length
      return sum
    })
    console.log(
      `  ${groupCount} groups × ${VNODES} vnodes (${ring.arcCount} arcs): ownerOf ${rate(ownerOf)}, ownerOfHash ${rate(ownerOfHash)}`,
    )
  }
}
