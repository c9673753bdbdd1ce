/**
 * The closed-loop write load of the write-path tools (`profile-leader`, `write-path-bench`):
 * `concurrency` workers, each putting `valueBytes` values one after the other (a worker sends
 * its next put when the last one is answered), spread over the given clients.
 */
import type { KvClient } from '@kv/client'

export interface ClosedLoop {
  /** Latencies of the puts answered from now on are recorded (ms). */
  startMeasuring(): void
  /** Stops recording; the recorded latencies, sorted. */
  stopMeasuring(): number[]
  /** Stops the workers and waits for their puts in flight. */
  stop(): Promise<void>
}

/** Waits until one put is answered (the group elected a leader), trying up to `tries` times. */
export async function waitForFirstWrite(client: KvClient, tries: number, pauseMs: number): Promise<void> {
  for (let i = 0; i < tries; i++) {
    try {
      await client.put('closed-loop-ready', 'yes')
      return
    } catch {
      await new Promise((r) => setTimeout(r, pauseMs))
    }
  }
}

export function startClosedLoop(clients: readonly KvClient[], concurrency: number, valueBytes: number): ClosedLoop {
  const value = 'x'.repeat(valueBytes)
  let latencies: number[] = []
  let running = true
  let measuring = false
  const workers = Array.from({ length: concurrency }, async (_, w) => {
    for (let n = 0; running; n++) {
      const t0 = performance.now()
      try {
        await clients[w % clients.length]!.put(`k${w}-${n % 1000}`, value)
        if (measuring) latencies.push(performance.now() - t0)
      } catch {
        // a failed put is missing from the throughput
      }
    }
  })
  return {
    startMeasuring() {
      latencies = []
      measuring = true
    },
    stopMeasuring() {
      measuring = false
      return latencies.sort((a, b) => a - b)
    },
    async stop() {
      running = false
      await Promise.all(workers)
    },
  }
}

/** The latency at quantile `q` of sorted latencies (0 when there are none). */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
}
