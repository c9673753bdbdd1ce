/**
 * A replica's Prometheus metrics and health endpoints (`kv node --metrics-listen host:port`):
 *
 *   GET /metrics   prom-client's text format: requests and their latency per op, durable
 *                  writes (entries and bytes per Ready, time to make each durable), leader
 *                  changes, role/term/indexes, shard epoch/keys/migrations, migration steps,
 *                  transport drops and reconnects, and Node's own process metrics.
 *   GET /healthz   200 while the process serves (liveness).
 *   GET /readyz    200 when the replica's group has a leader it knows of, else 503 (readiness:
 *                  a load balancer sends clients elsewhere while the group elects).
 *
 * Counters are fed by the node's runtime as events happen; gauges are read at scrape time.
 */
import type { ReplicaStatus } from '@kv/protocol'
import type { TransportStats } from '@kv/transport-tcp'
import http from 'node:http'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

export interface MetricSources {
  readonly status: () => ReplicaStatus
  /** Peer links and the listener's client connections, summed by the caller or kept apart by `link`. */
  readonly transport: () => { readonly peers: TransportStats; readonly clients: TransportStats }
}

const latencyBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

export class NodeMetrics {
  readonly registry = new Registry()
  readonly #requests: Counter<'op' | 'result'>
  readonly #requestSeconds: Histogram<'op'>
  readonly #persistSeconds: Histogram
  readonly #readyEntries: Histogram
  readonly #readyBytes: Histogram
  readonly #entriesPersisted: Counter
  readonly #leaderChanges: Counter
  readonly #migrationSteps: Counter<'step'>

  constructor(labels: { replica: string; group: string; protocol: string }, sources: MetricSources) {
    const registers = [this.registry]
    this.registry.setDefaultLabels(labels)
    collectDefaultMetrics({ register: this.registry })
    this.#requests = new Counter({ name: 'kv_requests_total', help: 'client requests answered, by operation and result (ok or the error code)', labelNames: ['op', 'result'], registers })
    this.#requestSeconds = new Histogram({ name: 'kv_request_duration_seconds', help: 'time from a client request\'s arrival to its answer', labelNames: ['op'], buckets: latencyBuckets, registers })
    this.#persistSeconds = new Histogram({ name: 'kv_wal_persist_duration_seconds', help: 'time to make one Ready durable (write-ahead log append and fdatasync)', buckets: latencyBuckets, registers })
    this.#readyEntries = new Histogram({ name: 'kv_ready_entries', help: 'log entries made durable per Ready (batching)', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], registers })
    this.#readyBytes = new Histogram({ name: 'kv_ready_bytes', help: 'bytes of log entries made durable per Ready', buckets: [256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304], registers })
    this.#entriesPersisted = new Counter({ name: 'kv_log_entries_persisted_total', help: 'log entries made durable (proposals on a leader, replicated entries on a follower)', registers })
    this.#leaderChanges = new Counter({ name: 'kv_leader_changes_total', help: 'times the group\'s leader, as this replica sees it, changed', registers })
    this.#migrationSteps = new Counter({ name: 'kv_migration_steps_total', help: 'shard migration steps applied, by step', labelNames: ['step'], registers })

    const statusGauge = (name: string, help: string, read: (s: ReplicaStatus) => number | undefined) =>
      new Gauge({
        name, help, registers,
        collect() {
          const v = read(sources.status())
          if (v !== undefined) this.set(v)
        },
      })
    statusGauge('kv_is_leader', '1 while this replica leads its group', (s) => (s.role === 'leader' ? 1 : 0))
    statusGauge('kv_term', 'Raft term or Paxos ballot', (s) => s.term)
    statusGauge('kv_commit_index', 'highest log index known committed', (s) => s.commitIndex)
    statusGauge('kv_applied_index', 'highest log index applied to the state machine', (s) => s.appliedIndex)
    statusGauge('kv_last_index', 'highest log index held', (s) => s.lastIndex)
    statusGauge('kv_shard_epoch', 'shard-map epoch applied (shard groups)', (s) => s.epoch)
    statusGauge('kv_keys', 'keys held (shard groups)', (s) => s.keys)
    statusGauge('kv_migrations_in_progress', 'shard migrations this group takes part in now', (s) => s.migrations?.length)

    // Transport counters: read at scrape time from the transports' own running totals.
    const transportCounter = (name: string, help: string, read: (t: TransportStats) => number) => {
      let seen = { peers: 0, clients: 0 }
      return new Counter({
        name, help, labelNames: ['link'], registers,
        collect() {
          const t = sources.transport()
          const now = { peers: read(t.peers), clients: read(t.clients) }
          for (const link of ['peers', 'clients'] as const) if (now[link] > seen[link]) this.inc({ link }, now[link] - seen[link])
          seen = now
        },
      })
    }
    transportCounter('kv_transport_dropped_queue_full_total', 'messages dropped because an outgoing queue was full', (t) => t.droppedQueueFull)
    transportCounter('kv_transport_dropped_unreachable_total', 'messages dropped for a peer that could not be reached (all but the newest few kept)', (t) => t.droppedUnreachable)
    transportCounter('kv_transport_dropped_by_fault_total', 'messages dropped by fault injection (--drop-rate)', (t) => t.droppedByFault)
    transportCounter('kv_transport_silent_links_reset_total', 'peer links closed because their liveness probes went unanswered', (t) => t.silentLinksReset)
    transportCounter('kv_transport_reconnects_total', 'connection attempts after a failure', (t) => t.reconnects)
    transportCounter('kv_transport_protocol_errors_total', 'connections closed for a bad frame or handshake', (t) => t.protocolErrors)
    new Gauge({
      name: 'kv_transport_queued_messages', help: 'messages waiting in outgoing queues', labelNames: ['link'], registers,
      collect() {
        const t = sources.transport()
        this.set({ link: 'peers' }, t.peers.queuedMessages)
        this.set({ link: 'clients' }, t.clients.queuedMessages)
      },
    })
  }

  /** A client request was answered `result` (ok or an error code) after `seconds`. */
  request(op: string, result: string, seconds: number): void {
    this.#requests.inc({ op, result })
    this.#requestSeconds.observe({ op }, seconds)
  }

  /** A Ready with `entries` entries of `bytes` bytes became durable after `seconds`. */
  persisted(entries: number, bytes: number, seconds: number): void {
    this.#persistSeconds.observe(seconds)
    if (entries > 0) {
      this.#readyEntries.observe(entries)
      this.#readyBytes.observe(bytes)
      this.#entriesPersisted.inc(entries)
    }
  }

  leaderChanged(): void {
    this.#leaderChanges.inc()
  }

  migrationStep(step: string): void {
    this.#migrationSteps.inc({ step })
  }
}

/** Serves /metrics, /healthz and /readyz on `host:port`; resolves once listening. */
export async function serveMetrics(metrics: NodeMetrics, ready: () => { ok: boolean; reason: string }, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${e instanceof Error ? e.message : String(e)}\n`),
      )
      return
    }
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
      return
    }
    if (url === '/readyz') {
      const r = ready()
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${r.reason}\n`)
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz or /readyz\n')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return server
}
