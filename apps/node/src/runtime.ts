import type { CoreFactory, HardState, PeerMessage, Ready } from '@kv/consensus'
import { createPaxos } from '@kv/paxos'
import { allGroups } from '@kv/protocol'
import { createRaft } from '@kv/raft'
import { createGroupMachine, groupKind, parseGroupRequest, Replica, type GroupMachine, type ReplicaEnv, type ReplicaLimits } from '@kv/server'
import { DurableReplicaStorage, loadMachine, mirrorMachine } from '@kv/storage'
import { PeerTransport, TransportServer, type FaultConfig } from '@kv/transport-tcp'
import type { Logger } from 'pino'
import { findReplica, type ClusterConfig } from './config.js'
import { classifyMessage } from './message-kinds.js'

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
  const { group, replica: me } = findReplica(o.config, o.id)
  const log = o.logger
  const opened = await DurableReplicaStorage.open(o.dataDir, {
    clusterId: o.config.clusterId,
    replicaId: o.id,
    ...(o.walSegmentBytes === undefined ? {} : { wal: { maxSegmentBytes: o.walSegmentBytes } }),
  })
  const storage = opened.storage
  if (opened.recovery !== null) log.warn({ recovery: opened.recovery }, 'cut a torn tail off the write-ahead log')
  const kind = groupKind(o.config, group.id)
  const stateMachine = createGroupMachine(o.config, group.id, {
    trackChanges: true,
    // One structured line per migration step: the step, its epoch and both groups.
    onMigrationStep: (e) => log.info({ migration: e.step, epoch: e.epoch, from: e.from, to: e.to, group: e.group, ...(e.keys === undefined ? {} : { keys: e.keys }) }, 'migration step'),
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
  const peerTransport = new PeerTransport({
    nodeId: o.id, clusterId: o.config.clusterId, token: o.config.token, peers, logger: log, faults: o.faults, classify: classifyMessage,
    // Connect from our own address: peers (and a firewall cutting a partition) see who we are.
    ...(isLoopbackAlias(me.host) ? { localAddress: me.host } : {}),
  })
  let lastHard: HardState | null = opened.persisted.hardState
  // Set by close(): storage is closing, so nothing new may be written (a write to the closed log
  // would be taken for a disk failure). Writes already under way finish; nothing new is acknowledged.
  let closing = false
  let mirrorScheduled = false
  const env: ReplicaEnv<GroupMachine> = {
    now: () => Date.now(),
    send: (msg: PeerMessage) => peerTransport.send(msg.to, msg),
    // Called for each Ready as it is handed out, while earlier ones may still be syncing:
    // `persistReady` issues the WAL writes in this order and the WAL folds those that queue
    // during one fdatasync into the next (group commit). A Ready with nothing to sync is done
    // at once; the replica still finishes Readys in order.
    persist: (ready, done) => {
      if (closing) return
      if (!needsSync(ready, lastHard)) return done()
      if (ready.hardState !== null) lastHard = ready.hardState
      storage.persistReady(ready).then(done, fatal('write-ahead log write'))
    },
    saveSnapshot: (snapshot, done) => {
      if (closing) return
      storage.saveSnapshot(snapshot).then(() => done(), fatal('snapshot save'))
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

  let flushScheduled = false
  const flushSoon = () => {
    if (flushScheduled) return
    flushScheduled = true
    setImmediate(() => {
      flushScheduled = false
      replica.flush()
    })
  }
  const server = await TransportServer.listen({
    host: me.host, port: me.port, clusterId: o.config.clusterId, token: o.config.token, nodeId: o.id, logger: log,
    faults: o.faults, faultIncomingClientRequests: true, classify: classifyMessage,
    onPeerMessage: (from, msg) => {
      const m = msg as unknown as PeerMessage
      if (m.from !== from || m.to !== o.id) return log.warn({ from, type: msg.type }, 'peer message with wrong addresses dropped')
      replica.step(m)
      flushSoon()
    },
    onClientRequest: (msg, reply, conn) => {
      const parsed = parseGroupRequest(kind, msg)
      if (!parsed.ok) {
        log.warn({ remote: conn.remoteAddress, reason: parsed.reason }, 'bad client request')
        return reply({ type: 'error', code: 'BAD_REQUEST', message: parsed.reason })
      }
      replica.request(parsed.request, (resp) => reply(resp as unknown as Parameters<typeof reply>[0]))
      flushSoon()
    },
  })
  const logRoles = roleLogger(replica, log)
  const ticker = setInterval(() => {
    replica.tick()
    flushSoon()
    logRoles()
  }, o.config.tickMs)
  log.info({ id: o.id, group: group.id, protocol: group.protocol, port: me.port }, 'replica serving')
  return {
    replica,
    port: me.port,
    async close() {
      closing = true
      clearInterval(ticker)
      await server.close()
      await peerTransport.close()
      await storage.close()
    },
  }
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

/** Logs each change of role, term or leader once. */
function roleLogger(replica: Replica<GroupMachine>, log: Logger): () => void {
  let last = ''
  return () => {
    const s = replica.core.status()
    const now = `${s.role}/${s.term}/${s.leader ?? '-'}`
    if (now === last) return
    last = now
    log.info({ role: s.role, term: s.term, leader: s.leader }, s.role === 'leader' ? 'leading the group' : 'role changed')
  }
}
