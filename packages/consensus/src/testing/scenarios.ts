import { clusterFor, report, type Scenario } from './scenario.js'
import {
  awaitLeader, commitOn, durableLastIndex, expectAppliedInOrder, expectLiveness, payload, proposeAccepted,
} from './scenario-steps.js'
import { overwrittenInFlight, pipelineStorm, stalledElection, stalledFollowerDisks, stalledLeaderDisk } from './pipeline-scenarios.js'
import { ELECTION_STORM, RANDOM_FAULTS, runFaultProfile } from './random-faults.js'
import { membershipChanges } from './membership-scenarios.js'

/** Ticks within which a healthy group must elect a leader or commit a proposal. */
const ELECTION_TICKS = 400
const COMMIT_TICKS = 400

/** A leader is elected on a healthy network and keeps it while replicating in order to everyone. */
export const electionAndReplication: Scenario = (factory, o) => {
  const cluster = clusterFor(factory, o, { size: o.seed % 2 === 0 ? 5 : 3, network: { minDelayTicks: 1, maxDelayTicks: 2 } })
  const leader = awaitLeader(cluster, ELECTION_TICKS)
  const term = cluster.status(leader)?.term
  const payloads: Uint8Array[] = []
  for (let i = 0; i < 20; i++) {
    const data = payload(cluster, `steady-${i}`)
    proposeAccepted(cluster, leader, data)
    payloads.push(data)
    cluster.tick(1 + cluster.random.int(2))
  }
  cluster.awaitCondition((c) => c.ids.every((id) => c.appliedAt(id, payloads.at(-1)!) !== null), COMMIT_TICKS, 'applying 20 proposals everywhere')
  expectAppliedInOrder(cluster, payloads, cluster.ids)
  if (cluster.leader() !== leader || cluster.status(leader)?.term !== term) {
    cluster.fail('scenario', [leader], `leadership moved from ${leader} (term ${term}) to ${cluster.leader()} on a healthy network`)
  }
  return report(cluster)
}

/** The leader crashes; the others elect a new one and go on; the old leader restarts and catches up. */
export const leaderCrash: Scenario = (factory, o) => {
  const cluster = clusterFor(factory, o, { size: o.seed % 2 === 0 ? 3 : 5, network: { minDelayTicks: 1, maxDelayTicks: 3 } })
  awaitLeader(cluster, ELECTION_TICKS)
  const before = Array.from({ length: 5 }, (_, i) => payload(cluster, `before-${i}`))
  for (const data of before) commitOn(cluster, data, COMMIT_TICKS)
  const crashed = awaitLeader(cluster, ELECTION_TICKS) // leadership may have moved meanwhile
  const crashedTerm = cluster.status(crashed)?.term ?? 0
  cluster.crash(crashed)
  const second = awaitLeader(cluster, ELECTION_TICKS)
  if ((cluster.status(second)?.term ?? 0) <= crashedTerm) {
    cluster.fail('scenario', [crashed, second], `${second} leads at term ${cluster.status(second)?.term}, not above the crashed leader's ${crashedTerm}`)
  }
  const after = Array.from({ length: 5 }, (_, i) => payload(cluster, `after-${i}`))
  for (const data of after) commitOn(cluster, data, COMMIT_TICKS)
  cluster.restart(crashed)
  cluster.awaitCondition((c) => [...before, ...after].every((d) => c.appliedAt(crashed, d) !== null), COMMIT_TICKS,
    `the restarted ${crashed} applying everything committed`)
  expectLiveness(cluster, 'after-restart', COMMIT_TICKS)
  return report(cluster)
}

/**
 * A minority holding the old leader cannot commit; the majority elects a leader and commits;
 * after the partition heals, everyone converges.
 */
export const minorityPartition: Scenario = (factory, o) => {
  const cluster = clusterFor(factory, o, { size: 5, network: { minDelayTicks: 1, maxDelayTicks: 2 } })
  const oldLeader = awaitLeader(cluster, ELECTION_TICKS)
  commitOn(cluster, payload(cluster, 'before'), COMMIT_TICKS)
  const others = cluster.ids.filter((id) => id !== oldLeader)
  const minority = [oldLeader, others[cluster.random.int(others.length)]!]
  const majority = cluster.ids.filter((id) => !minority.includes(id))
  cluster.partition([minority, majority])

  const stranded: Uint8Array[] = []
  for (let i = 0; i < 3; i++) {
    const data = payload(cluster, `minority-${i}`)
    stranded.push(data)
    cluster.propose(oldLeader, data) // may be refused; either way it must not commit
    cluster.tick(2)
  }
  awaitLeader(cluster, ELECTION_TICKS, majority)
  const progress = Array.from({ length: 5 }, (_, i) => payload(cluster, `majority-${i}`))
  for (const data of progress) commitOn(cluster, data, COMMIT_TICKS, majority)
  cluster.tick(50)
  for (const id of cluster.ids) {
    for (const data of stranded) {
      if (cluster.appliedAt(id, data) !== null) {
        cluster.fail('scenario', [id, ...minority], `${id} applied ${new TextDecoder().decode(data)}, proposed in the minority ${minority.join(', ')} while partitioned`)
      }
    }
  }

  cluster.heal()
  expectLiveness(cluster, 'after-heal', ELECTION_TICKS + COMMIT_TICKS)
  cluster.awaitCondition((c) => c.ids.every((id) => progress.every((d) => c.appliedAt(id, d) !== null)), COMMIT_TICKS,
    'every node applying what the majority committed')
  return report(cluster)
}

/**
 * A follower falls behind (crashed or cut off) while the others commit and compact past its
 * log; on return it must be brought up to date with a snapshot.
 */
export const snapshotCatchUp: Scenario = (factory, o) => {
  const cluster = clusterFor(factory, o, { size: 3, compactEvery: 10, network: { minDelayTicks: 1, maxDelayTicks: 2 } })
  const leader = awaitLeader(cluster, ELECTION_TICKS)
  commitOn(cluster, payload(cluster, 'warm-up'), COMMIT_TICKS)
  const lagging = cluster.ids.filter((id) => id !== leader)[cluster.random.int(cluster.ids.length - 1)]!
  const byCrash = o.seed % 2 === 0
  if (byCrash) cluster.crash(lagging)
  else cluster.partition([cluster.ids.filter((id) => id !== lagging)])
  const missed = Array.from({ length: 60 }, (_, i) => payload(cluster, `missed-${i}`))
  const upNodes = cluster.ids.filter((id) => id !== lagging)
  for (const data of missed) commitOn(cluster, data, COMMIT_TICKS, upNodes)
  cluster.tick(10)
  const current = awaitLeader(cluster, ELECTION_TICKS, upNodes)
  const firstIndex = cluster.status(current)?.firstIndex ?? 0
  const laggingLast = durableLastIndex(cluster, lagging)
  if (firstIndex <= laggingLast + 1) {
    cluster.fail('scenario', [current, lagging],
      `after ${cluster.appliedIndex(current)} applied entries and compaction every 10, ${current}'s first log index is ${firstIndex}: it kept the entries ${lagging} needs (from ${laggingLast + 1}), so catch-up by snapshot cannot be tested`)
  }

  if (byCrash) cluster.restart(lagging)
  else cluster.heal()
  cluster.awaitCondition((c) => missed.every((d) => c.appliedAt(lagging, d) !== null), COMMIT_TICKS,
    `${lagging} catching up from index ${laggingLast} past the leader's first index ${firstIndex}`)
  if (cluster.snapshotsInstalled(lagging) === 0) {
    cluster.fail('scenario', [lagging], `${lagging} caught up without installing a snapshot, though the entries it missed were compacted`)
  }
  expectLiveness(cluster, 'after-catch-up', COMMIT_TICKS)
  return report(cluster)
}

/** The chunk size of `chunkedSnapshotCatchUp`: its snapshots are dozens of chunks long. */
const SMALL_CHUNK_BYTES = 64
/** Chunks delivered per chunk of the snapshot at most, in `chunkedSnapshotCatchUp`. */
const MAX_CHUNK_RESEND_FACTOR = 3.5

/**
 * A follower falls behind while the others commit and compact; on return it catches up by a
 * snapshot many times the chunk size, sent in chunks over a network that drops, duplicates
 * and reorders them, and it crashes and restarts mid-transfer (after some chunks arrived,
 * before the snapshot was complete). Tight byte bounds on messages and Readys hold throughout.
 */
export const chunkedSnapshotCatchUp: Scenario = (factory, o) => {
  const cluster = clusterFor(factory, o, {
    size: 3,
    compactEvery: 10,
    maxSnapshotChunkBytes: SMALL_CHUNK_BYTES,
    maxBytesPerMessage: 512,
    maxPersistBytesPerReady: 1024,
    maxApplyBytesPerReady: 512,
    maxInflightMessages: 4,
    network: { minDelayTicks: 1, maxDelayTicks: 2 },
  })
  const leader = awaitLeader(cluster, ELECTION_TICKS)
  commitOn(cluster, payload(cluster, 'warm-up'), COMMIT_TICKS)
  const lagging = cluster.ids.filter((id) => id !== leader)[cluster.random.int(cluster.ids.length - 1)]!
  const upNodes = cluster.ids.filter((id) => id !== lagging)
  cluster.partition([upNodes])
  const missed = Array.from({ length: 60 }, (_, i) => payload(cluster, `missed-${i}-${'.'.repeat(24)}`))
  for (const data of missed) commitOn(cluster, data, COMMIT_TICKS, upNodes)
  cluster.tick(10)
  const current = awaitLeader(cluster, ELECTION_TICKS, upNodes)
  const snapshotBytes = cluster.disk(current).snapshot?.data.length ?? 0
  if (snapshotBytes < 8 * SMALL_CHUNK_BYTES || (cluster.status(current)?.firstIndex ?? 0) <= durableLastIndex(cluster, lagging) + 1) {
    cluster.fail('scenario', [current, lagging], `${current} holds a snapshot of ${snapshotBytes} bytes and kept the entries ${lagging} needs: the scenario tests nothing`)
  }

  // Lossy, duplicating, reordering network from here on.
  cluster.configureNetwork({ dropRate: 0.1, duplicateRate: 0.1, minDelayTicks: 1, maxDelayTicks: 4 })
  cluster.heal()
  cluster.awaitCondition((c) => c.chunksReceived(lagging) >= 3 || c.snapshotsInstalled(lagging) > 0, COMMIT_TICKS,
    `${lagging} receiving its first snapshot chunks`)
  if (cluster.snapshotsInstalled(lagging) > 0) {
    cluster.fail('scenario', [lagging], `${lagging} installed a snapshot of ${snapshotBytes} bytes after 3 chunks of ${SMALL_CHUNK_BYTES}: it was not sent in chunks`)
  }
  cluster.crash(lagging) // mid-transfer: what it assembled is lost with its memory
  cluster.tick(5)
  cluster.restart(lagging)
  const before = cluster.chunksReceived(lagging)
  cluster.awaitCondition((c) => missed.every((d) => c.appliedAt(lagging, d) !== null), 4 * COMMIT_TICKS,
    `${lagging} catching up by a snapshot of ${snapshotBytes} bytes in chunks of ${SMALL_CHUNK_BYTES} after a restart mid-transfer`)
  if (cluster.snapshotsInstalled(lagging) === 0 || cluster.chunksReceived(lagging) - before < snapshotBytes / SMALL_CHUNK_BYTES / 2) {
    cluster.fail('scenario', [lagging], `${lagging} caught up with ${cluster.chunksReceived(lagging) - before} chunks after its restart and ${cluster.snapshotsInstalled(lagging)} snapshots installed, for a snapshot of ${snapshotBytes} bytes`)
  }
  // Resumption: chunks are resent from where the follower is, so the transfer costs a small
  // multiple of the snapshot under this network (about 2-3×); resending from 0 costs 4-35×.
  const chunksAfterRestart = cluster.chunksReceived(lagging) - before
  const snapshotChunks = Math.ceil(snapshotBytes / SMALL_CHUNK_BYTES)
  if (chunksAfterRestart > MAX_CHUNK_RESEND_FACTOR * snapshotChunks) {
    cluster.fail('scenario', [lagging], `${lagging} was delivered ${chunksAfterRestart} chunks for a snapshot of ${snapshotChunks}: more than ${MAX_CHUNK_RESEND_FACTOR}× (a lost chunk must be resent from the follower's offset, not from 0)`)
  }
  cluster.configureNetwork({ dropRate: 0, duplicateRate: 0 })
  expectLiveness(cluster, 'after-chunked-catch-up', COMMIT_TICKS)
  return report(cluster)
}

/** Hundreds of proposals in one tick: batching, flow control and ordering under reordering and duplicates. */
export const proposalBurst: Scenario = (factory, o) => {
  const cluster = clusterFor(factory, o, {
    size: 3,
    maxEntriesPerMessage: 16,
    maxInflightMessages: 4,
    network: { minDelayTicks: 1, maxDelayTicks: 3, duplicateRate: 0.05 },
  })
  const leader = awaitLeader(cluster, ELECTION_TICKS)
  const burst = Array.from({ length: 300 }, (_, i) => payload(cluster, `burst-${i}`))
  let previous = 0
  for (const data of burst) {
    const { index } = proposeAccepted(cluster, leader, data)
    if (index <= previous) cluster.fail('scenario', [leader], `${leader} gave index ${index} after ${previous} within one burst`)
    previous = index
  }
  cluster.awaitCondition((c) => c.ids.every((id) => c.appliedAt(id, burst.at(-1)!) !== null), 2000, 'applying a burst of 300 proposals everywhere')
  expectAppliedInOrder(cluster, burst, cluster.ids)
  return report(cluster)
}

/** Continuous proposals under drops, delays, duplicates, reordering, partitions, crashes and restarts. */
export const randomFaults: Scenario = (factory, o) => runFaultProfile(RANDOM_FAULTS, factory, o)

/** Colliding elections on three nodes while nodes bounce mid-election and mid-Ready. */
export const electionStorm: Scenario = (factory, o) => runFaultProfile(ELECTION_STORM, factory, o)

export interface ScenarioEntry {
  /** Stable, unique, used on the command line and in `-t` filters. */
  readonly name: string
  /** Says the behaviour checked, for test names. */
  readonly title: string
  readonly run: Scenario
  /** Seeds per suite seed: the fault scenarios are cheap and find more with more seeds. */
  readonly seedWeight: number
}

/** Every scenario, in the order the suite runs them. Names are stable (the CLI uses them). */
export const SCENARIOS: readonly ScenarioEntry[] = [
  { name: 'election', title: 'elects a leader and replicates in order', run: electionAndReplication, seedWeight: 1 },
  { name: 'leader-crash', title: 'survives a leader crash and catches the old leader up', run: leaderCrash, seedWeight: 1 },
  {
    name: 'minority-partition', title: 'makes progress only in the majority and converges after heal',
    run: minorityPartition, seedWeight: 1,
  },
  { name: 'random-faults', title: 'stays safe under random faults and recovers after them', run: randomFaults, seedWeight: 3 },
  { name: 'election-storm', title: 'stays safe when elections collide and voters bounce', run: electionStorm, seedWeight: 4 },
  { name: 'snapshot-catch-up', title: 'compacts and catches a lagging node up by snapshot', run: snapshotCatchUp, seedWeight: 1 },
  {
    name: 'chunked-snapshot', title: 'catches a node up by a snapshot in chunks through loss, duplicates, reordering and a restart mid-transfer',
    run: chunkedSnapshotCatchUp, seedWeight: 2,
  },
  { name: 'burst', title: 'applies a burst of proposals in order', run: proposalBurst, seedWeight: 1 },
  {
    name: 'pipeline-leader', title: 'a leader whose disk stalls pipelines Readys, applies nothing unwritten, and survives a crash losing them',
    run: stalledLeaderDisk, seedWeight: 1,
  },
  {
    name: 'pipeline-followers', title: 'followers whose disks stall acknowledge nothing, so nothing commits, until they write again',
    run: stalledFollowerDisks, seedWeight: 1,
  },
  { name: 'pipeline-election', title: 'no one is elected while votes cannot be written', run: stalledElection, seedWeight: 1 },
  {
    name: 'pipeline-overwrite', title: 'an unsynced write overwritten by a newer leader is not taken for the new value when it completes',
    run: overwrittenInFlight, seedWeight: 2,
  },
  {
    name: 'pipeline-storm', title: 'stays safe with Readys piling up in flight, stalled disks and crashes losing unsynced writes',
    run: pipelineStorm, seedWeight: 4,
  },
  {
    name: 'membership', title: 'adds, promotes, removes the leader and replaces a dead voter through loss and compaction',
    run: membershipChanges, seedWeight: 1,
  },
]

export function scenarioByName(name: string): ScenarioEntry | undefined {
  return SCENARIOS.find((s) => s.name === name)
}
