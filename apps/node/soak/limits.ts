/** Named bounds of `pnpm soak`, with their units. */

/** Every fault lasts this long at least, then heals. */
export const faultMinMs = 1_000
/** Every fault lasts this long at most. */
export const faultMaxMs = 8_000
/** The nemesis draws the next fault's start this long after the previous one's, at least... */
export const faultGapMinMs = 500
/** ...and at most. Shorter than a fault, so faults overlap (within the bounds of claims.ts). */
export const faultGapMaxMs = 4_000
/** The drop probabilities a `drops` fault restarts a replica with (`kv node --drop-rate`). */
export const dropRates = [0.1, 0.3] as const

/**
 * After a cut link is healed, TCP resends at its next retransmission timeout, which doubled
 * through the cut: within the cut's length plus this (the first timeout, ~200 ms, and slack).
 */
export const retransmitSlackMs = 1_000
/** After a replica is started again, its peers redial within transport-tcp's reconnectMaxDelayMs (2 s); plus slack. */
export const reconnectGraceMs = 2_500

/** Clients work this long before the first fault. */
export const warmupMs = 2_000
/** The quiet period at the end (every fault healed, clients still working): 10 % of the run, within these bounds. */
export const quietMinMs = 5_000
export const quietMaxMs = 20_000
/** One add or remove of the spare group per this much of the fault phase (at least one of each). */
export const migrationEveryMs = 60_000

/** Deadline of one admin call (add/remove the spare group); retried until the run ends. */
export const adminCallTimeoutMs = 20_000
/** How long the nemesis waits for a group's status when it looks for the leader. */
export const leaderProbeTimeoutMs = 500
/** Before a SIGTERM, the nemesis waits this long at most for the replica to answer (to have started). */
export const serveTimeoutMs = 20_000
/** How often the monitor checks that every replica the nemesis has not stopped still runs. */
export const monitorEveryMs = 500
/** After the run: bound on the wait for every group to apply the final shard map. */
export const settleTimeoutMs = 120_000
/** After the run: bound on the wait for one group's replicas to reach one applied index and digest. */
export const convergeTimeoutMs = 60_000
/** Beyond the run's own length: the watchdog ends the process (exit 2) after this much more. */
export const watchdogSlackMs = 10 * 60_000

/** Key families: a batchPut writes the keys of one family, so the checker's partitions stay one family each. */
export const keyFamilies = 8
export const keysPerFamily = 3

/** Ports and host groups of the soak: 23000–23999 (the tests use 21000–22700, others 24000+). */
export const portRange = { first: 23_000, last: 23_999 } as const
export const defaultBasePort = { raft: 23_500, paxos: 23_600 } as const
/** 127.0.<hostGroup>.n addresses of the replicas (partition.test.ts uses 41–46). */
export const defaultHostGroup = { raft: 231, paxos: 232 } as const
