import type { CoreFactory, Entry, HardState, PeerMessage, Ready, Snapshot } from '@kv/consensus'
import { createPaxos } from '@kv/paxos'
import { allGroups, clusterTopology, endpointKey, groupOfReplica, isDiscoverRequest, listenAddress, parseHostPort } from '@kv/protocol'
import { createRaft } from '@kv/raft'
import { createGroupMachine, groupKind, isGroupMessage, parseGroupRequest, Replica, type GroupMachine, type ReplicaEnv, type ReplicaLimits } from '@kv/server'
import { DurableReplicaStorage, loadMachine, mirrorMachine } from '@kv/storage'
import { PeerTransport, TransportServer, type FaultConfig } from '@kv/transport-tcp'
import type { Logger } from 'pino'
import { readdir, stat } from 'node:fs/promises'
import type { Server } from 'node:http'
import path from 'node:path'
import { ConfigError, findReplica, type ClusterConfig } from './config.js'
import { classifyMessage } from './message-kinds.js'
import { NodeMetrics, serveMetrics } from './metrics.js'
import { nodeTls, type TlsFileFlags } from './node-tls.js'

const factories: Readonly<Record<'raft' | 'paxos', CoreFactory>> = { raft: createRaft, paxos: createPaxos }

export interface NodeOptions {
  config: ClusterConfig
  id: string
  dataDir: string
  faults: FaultConfig
  skipSlots: number[]
  logger: Logger
  /** Size of each write-ahead log segment (default 64 MiB). */
  walSegmentBytes?: number
  /** Serve /metrics, /healthz and /readyz here (metrics.ts). */
  metricsListen?: { host: string; port: number }
  /** The kv release, reported by status. */
  version?: string
  /** This machine's certificate files, over the config's tls paths. */
  tlsFiles?: TlsFileFlags
  /**
   * Start a replica that is in no config: one being admitted to `group` by `kv member add`
   * (its id must be new). It listens at `listen` (default: `advertise`), tells peers it is at
   * `advertise`, and takes no part in votes or quorums until the group's log makes it a member.
   */
  join?: { readonly group: string; readonly advertise: { host: string; port: number }; readonly listen?: { host: string; port: number } }
  /** Write path settings for measurements (`CoreConfig.maxReadysInFlight`, replica limits); defaults otherwise. */
  tuning?: { readonly maxReadysInFlight?: number; readonly limits?: Partial<ReplicaLimits> }
}

export interface RunningNode {
  readonly replica: Replica<GroupMachine>
  readonly port: number
  close(): Promise<void>
}

/**
 * Starts one replica: the same `Replica` as the simulator, with the write-ahead log, LMDB,
 * TCP and the wall clock as its environment.
 */
export async function startNode(o: NodeOptions): Promise<RunningNode> {
  const { group, replica: me } = o.join === undefined ? findReplica(o.config, o.id) : joiningReplica(o.config, o.id, o.join)
  const log = o.logger
  // Before anything is opened: a bad certificate stops the start with one clear line.
  const tls = nodeTls(o.config, me, o.tlsFiles ?? {})
  if (o.config.peerToken === undefined) {
    log.warn('the cluster config has no peerToken: replicas accept the client token from peers, so a client credential could join as a replica; add a peerToken (kv config generate writes one)')
  }
  const bind = listenAddress(me)
  const opened = await DurableReplicaStorage.open(o.dataDir, {
    clusterId: o.config.clusterId,
    replicaId: o.id,
    ...(o.walSegmentBytes === undefined ? {} : { wal: { maxSegmentBytes: o.walSegmentBytes } }),
  })
  const storage = opened.storage
  if (opened.recovery !== null) log.warn({ recovery: opened.recovery }, 'cut a torn tail off the write-ahead log')
  const kind = groupKind(o.config, group.id)
  // Set once the replica exists (the metrics read its status at scrape time).
  let replicaRef: Replica<GroupMachine> | null = null
  let server: TransportServer | null = null
  const metrics = new NodeMetrics({ replica: o.id, group: group.id, protocol: group.protocol }, {
    status: () => replicaRef!.replicaStatus(),
    transport: () => ({ peers: peerTransport.stats(), clients: server?.stats() ?? peerTransport.stats() }),
  })
  const stateMachine = createGroupMachine(o.config, group.id, {
    trackChanges: true,
    // One structured line per migration step: the step, its epoch and both groups.
    onMigrationStep: (e) => {
      metrics.migrationStep(e.step)
      log.info({ migration: e.step, epoch: e.epoch, from: e.from, to: e.to, group: e.group, ...(e.keys === undefined ? {} : { keys: e.keys }) }, 'migration step')
    },
  })
  loadMachine(storage.state, stateMachine)
  log.info({ appliedIndex: opened.appliedIndex, kind, logEntries: opened.persisted.entries.length }, 'storage opened')

  const fatal = (what: string) => (e: unknown) => {
    // A failed disk write leaves no safe way on: stop loudly rather than acknowledge anything.
    log.fatal({ err: e }, `${what} failed; stopping`)
    process.exit(70)
  }
  // Every replica of the cluster: this group's for consensus, the others' for group messages
  // (shard-map polls, migration). Links open on first use, so unused ones cost nothing.
  const everyone = allGroups(o.config).flatMap((g) => g.replicas)
  const peers = Object.fromEntries(everyone.filter((r) => r.id !== o.id).map((r) => [r.id, { host: r.host, port: r.port }]))
  // With TLS, a peer naming one of these ids must show a certificate for its host; members
  // admitted at runtime are added as the log names them (learnAddress).
  const peerHosts = new Map(everyone.map((r) => [r.id, r.host]))
  const peerTransport = new PeerTransport({
    nodeId: o.id, clusterId: o.config.clusterId, token: o.config.peerToken ?? o.config.token, peers, logger: log, faults: o.faults, classify: classifyMessage,
    ...(tls === null ? {} : { tls: tls.dial }),
    // Connect from our own address: peers (and a firewall cutting a partition) see who we are.
    ...(isLoopbackAlias(me.host) ? { localAddress: me.host } : {}),
  })
  // The address book grows with the group: each member admitted by `kv member add` is at the
  // address its add-learner entry carries, learned as the entry is appended (the leader
  // replicates to a learner before the entry commits), from the log on restart, and from the
  // members' contexts a snapshot carries.
  const advertised = endpointKey(me)
  const decoder = new TextDecoder()
  const learnAddress = (id: string, text: string, source: string): void => {
    if (id === o.id) return
    const address = parseHostPort(text)
    if (address === null) return log.warn({ replica: id, address: text, source }, 'an address that is not host:port; not dialing it')
    if (!peerTransport.setPeer(id, address)) return
    peerHosts.set(id, address.host)
    log.info({ replica: id, address: text, source }, 'peer address learned')
  }
  const learnFrom = (entries: readonly Entry[], snapshot: Snapshot | null): void => {
    const contexts = snapshot?.memberContexts
    if (contexts !== undefined) for (const id in contexts) learnAddress(id, decoder.decode(contexts[id]), 'a snapshot')
    for (const e of entries) if (e.type === 'membership' && e.change.type === 'add-learner' && e.change.context.length > 0) learnAddress(e.change.id, decoder.decode(e.change.context), 'the log')
  }
  learnFrom(opened.persisted.entries, opened.persisted.snapshot)
  const unknownPeers = new Set<string>()
  let lastHard: HardState | null = opened.persisted.hardState
  // Set by close(): storage is closing, so nothing new may be written (a write to the closed log
  // would be taken for a disk failure). Writes already under way finish; nothing new is acknowledged.
  let closing = false
  let mirrorScheduled = false
  const env: ReplicaEnv<GroupMachine> = {
    now: () => Date.now(),
    send: (msg: PeerMessage) => {
      // A group message says where its sender is: a replica of another group may not know a
      // member admitted here at runtime, and must be able to answer it.
      if (isGroupMessage(msg) && msg.via === undefined) msg = { ...msg, fromAddress: advertised } as PeerMessage
      if (peerTransport.hasPeer(msg.to)) return peerTransport.send(msg.to, msg)
      // A member whose address this replica has not learned yet (it learns it from the log):
      // dropped like a lost message, said once.
      if (!unknownPeers.has(msg.to)) log.info({ to: msg.to, type: msg.type }, 'no address known for this replica yet (its add entry is on its way to the log); dropping messages to it until then')
      unknownPeers.add(msg.to)
    },
    // Called for each Ready as it is handed out, while earlier ones may still be syncing:
    // `persistReady` issues the WAL writes in this order and the WAL folds those that queue
    // during one fdatasync into the next (group commit). A Ready with nothing to sync is done
    // at once; the replica still finishes Readys in order.
    persist: (ready, done) => {
      if (closing) return
      learnFrom(ready.entries, ready.snapshot)
      if (!needsSync(ready, lastHard)) return done()
      if (ready.hardState !== null) lastHard = ready.hardState
      const started = performance.now()
      storage.persistReady(ready).then(() => {
        if (ready.snapshot !== null) log.info({ index: ready.snapshot.index, term: ready.snapshot.term, bytes: ready.snapshot.data.length }, 'snapshot received from the leader and stored')
        metrics.persisted(ready.entries.length, entryBytes(ready), (performance.now() - started) / 1000)
        done()
      }, fatal('write-ahead log write'))
    },
    saveSnapshot: (snapshot, done) => {
      if (closing) return
      const started = performance.now()
      storage.saveSnapshot(snapshot).then((segments) => {
        log.info({ index: snapshot.index, term: snapshot.term, bytes: snapshot.data.length, ms: Math.round(performance.now() - started), walSegmentsReleased: segments }, 'snapshot taken')
        done()
      }, fatal('snapshot save'))
    },
    // Skipped while closing: LMDB may lag the log; a restart replays the log past its applied index.
    // At most one LMDB transaction per turn of the event loop: with Readys pipelined, committed
    // entries are handed out in small batches (one per acknowledgement that moves the commit),
    // and the machine gathers its changes until they are mirrored.
    onApplied: (sm) => {
      if (closing || mirrorScheduled) return
      mirrorScheduled = true
      setImmediate(() => {
        mirrorScheduled = false
        if (!closing) void mirrorMachine(storage.state, sm).catch(fatal('state store write'))
      })
    },
  }
  const replica = new Replica({
    groupId: group.id,
    coreFactory: factories[group.protocol],
    coreConfig: {
      id: o.id,
      members: group.replicas.map((r) => r.id),
      electionTimeoutTicks: o.config.electionTimeoutTicks,
      heartbeatTicks: o.config.heartbeatTicks,
      random: Math.random,
      maxEntriesPerMessage: 256,
      maxInflightMessages: 8,
      persisted: opened.persisted,
      options: o.skipSlots.length > 0 ? { skipSlots: o.skipSlots } : {},
      ...(o.tuning?.maxReadysInFlight === undefined ? {} : { maxReadysInFlight: o.tuning.maxReadysInFlight }),
    },
    env,
    stateMachine,
    limits: {
      ...o.tuning?.limits,
      ...(o.config.snapshotEveryEntries === undefined ? {} : { snapshotEveryEntries: o.config.snapshotEveryEntries }),
    },
  })
  replicaRef = replica
  const startedAt = Date.now()
  const dataSize = folderSizeTracker(o.dataDir)

  // What `discover` answers (kv --endpoints): the config's public part, the same on every replica.
  const topology = clusterTopology(o.config)
  let flushScheduled = false
  const flushSoon = () => {
    if (flushScheduled) return
    flushScheduled = true
    setImmediate(() => {
      flushScheduled = false
      replica.flush()
    })
  }
  server = await TransportServer.listen({
    host: bind.host, port: bind.port, clusterId: o.config.clusterId, token: o.config.token, nodeId: o.id, logger: log,
    ...(o.config.peerToken === undefined ? {} : { peerToken: o.config.peerToken }),
    ...(tls === null ? {} : { tls: tls.listen, peerHosts }),
    faults: o.faults, faultIncomingClientRequests: true, classify: classifyMessage,
    onPeerMessage: (from, msg) => {
      const m = msg as unknown as PeerMessage & { via?: unknown; toGroup?: unknown; fromGroup?: unknown; fromAddress?: unknown }
      // A group message handed on by a follower of this group comes over that follower's link
      // (only a group message: consensus messages always come from their sender).
      const sender = typeof m.via === 'string' && typeof m.toGroup === 'string' ? m.via : m.from
      if (sender !== from || m.to !== o.id) return log.warn({ from, type: msg.type }, 'peer message with wrong addresses dropped')
      // The sender of a group message may be a member another group admitted at runtime.
      if (typeof m.toGroup === 'string' && typeof m.fromAddress === 'string' && !peerTransport.hasPeer(m.from)) learnAddress(m.from, m.fromAddress, `a message of group ${m.fromGroup as string}`)
      replica.step(m)
      flushSoon()
    },
    onClientRequest: (msg, reply, conn) => {
      // Any replica, of any group, answers it at once: it needs no consensus (the connection's hello carried the client token).
      if (isDiscoverRequest(msg)) {
        metrics.request('discover', 'ok', 0)
        return reply(topology)
      }
      const parsed = parseGroupRequest(kind, msg)
      if (!parsed.ok) {
        log.warn({ remote: conn.remoteAddress, reason: parsed.reason }, 'bad client request')
        return reply({ type: 'error', code: 'BAD_REQUEST', message: parsed.reason })
      }
      const req = parsed.request
      const op = 'type' in req && req.type === 'status' ? 'status' : 'type' in req && req.type === 'member' ? 'member' : opName((req as { op: unknown }).op)
      const started = performance.now()
      replica.request(req, (resp) => {
        metrics.request(op, resp.type === 'error' ? resp.code : 'ok', (performance.now() - started) / 1000)
        // The node adds what only the process knows to a status answer.
        const answer = resp.type === 'status'
          ? { ...resp, ...(o.version === undefined ? {} : { version: o.version }), uptimeSeconds: Math.round((Date.now() - startedAt) / 1000), ...dataSize.current() }
          : withLeaderAddress(resp, peerTransport)
        reply(answer as unknown as Parameters<typeof reply>[0])
      })
      flushSoon()
    },
  })
  const logRoles = roleLogger(replica, log, () => metrics.leaderChanged())
  let metricsServer: Server | null = null
  if (o.metricsListen !== undefined) {
    metricsServer = await serveMetrics(metrics, () => {
      const s = replica.core.status()
      return s.leader === null ? { ok: false, reason: `no leader of ${group.id} known (${s.role}, term ${s.term})` } : { ok: true, reason: `${group.id} led by ${s.leader}` }
    }, o.metricsListen.host, o.metricsListen.port)
    log.info({ metrics: `http://${o.metricsListen.host}:${o.metricsListen.port}/metrics` }, 'serving metrics')
  }
  const ticker = setInterval(() => {
    replica.tick()
    flushSoon()
    logRoles()
  }, o.config.tickMs)
  log.info({
    id: o.id, group: group.id, protocol: group.protocol, advertised: `${me.host}:${me.port}`, listen: `${bind.host}:${bind.port}`,
    tls: tls === null ? false : tls.files, peerToken: o.config.peerToken !== undefined,
  }, 'replica serving')
  return {
    replica,
    port: me.port,
    async close() {
      closing = true
      clearInterval(ticker)
      dataSize.stop()
      if (metricsServer !== null) await new Promise<void>((resolve) => metricsServer.close(() => resolve()))
      await server.close()
      await peerTransport.close()
      await storage.close()
    },
  }
}

/**
 * A NOT_LEADER answer says where its leader is: a client holding an older config (or shard
 * map) has never heard of a member admitted since.
 */
function withLeaderAddress<R extends { type: string }>(resp: R, peers: PeerTransport): R {
  const r = resp as R & { code?: unknown; leader?: unknown }
  if (r.type !== 'error' || r.code !== 'NOT_LEADER' || typeof r.leader !== 'string') return resp
  const address = peers.peerAddress(r.leader)
  return address === undefined ? resp : { ...resp, leaderAddress: endpointKey(address) }
}

/** The replica spec of a replica joining `join.group`: its id must be new to the config. */
function joiningReplica(config: ClusterConfig, id: string, join: NonNullable<NodeOptions['join']>): ReturnType<typeof findReplica> {
  if (groupOfReplica(config, id) !== null) throw new ConfigError(`replica "${id}" is in the config already: start it without --join`)
  const group = allGroups(config).find((g) => g.id === join.group)
  if (group === undefined) throw new ConfigError(`no group "${join.group}" in the config (known: ${allGroups(config).map((g) => g.id).join(', ')})`)
  const replica = { id, host: join.advertise.host, port: join.advertise.port, ...(join.listen === undefined ? {} : { listen: join.listen }) }
  return { group, replica }
}

/** 127.x.y.z other than the default address: a replica given its own loopback address. */
function isLoopbackAlias(host: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(host) && host !== '127.0.0.1'
}

/** Only entries, a snapshot, a truncation or a new term/vote need a sync; the commit index can be learned again. */
function needsSync(ready: Ready, last: HardState | null): boolean {
  const hs = ready.hardState
  const termOrVote = hs !== null && (last === null || hs.term !== last.term || hs.vote !== last.vote)
  return ready.entries.length > 0 || ready.snapshot !== null || ready.truncateFrom !== null || termOrVote
}

/** Logs each change of role, term or leader once; `onLeaderChange` when the leader seen changes. */
function roleLogger(replica: Replica<GroupMachine>, log: Logger, onLeaderChange: () => void): () => void {
  let last = ''
  let lastLeader: string | null = null
  return () => {
    const s = replica.core.status()
    const now = `${s.role}/${s.term}/${s.leader ?? '-'}`
    if (now === last) return
    last = now
    if (s.leader !== null && s.leader !== lastLeader) onLeaderChange()
    if (s.leader !== null) lastLeader = s.leader
    log.info({ role: s.role, term: s.term, leader: s.leader }, s.role === 'leader' ? 'leading the group' : 'role changed')
  }
}

/** A client op's name for metrics: `put`, `get`, `batchPut`, `addGroup`... */
function opName(op: unknown): string {
  const name = typeof op === 'object' && op !== null ? (op as { op?: unknown }).op : undefined
  return typeof name === 'string' ? name : 'unknown'
}

function entryBytes(ready: Ready): number {
  let bytes = 0
  for (const e of ready.entries) if (e.type === 'normal') bytes += e.data.length
  return bytes
}

/**
 * The bytes in a data folder, measured in the background every few seconds (a status call
 * must not walk the disk).
 */
function folderSizeTracker(dir: string): { current(): { dataBytes?: number }; stop(): void } {
  let bytes: number | undefined
  const walk = async (d: string): Promise<number> => {
    let total = 0
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name)
      if (entry.isDirectory()) total += await walk(p)
      else if (entry.isFile()) total += (await stat(p)).size
    }
    return total
  }
  const measure = () => void walk(dir).then((b) => (bytes = b), () => undefined)
  measure()
  const timer = setInterval(measure, 5000)
  timer.unref()
  return { current: () => (bytes === undefined ? {} : { dataBytes: bytes }), stop: () => clearInterval(timer) }
}
