/**
 * `@kv/consensus/testing`: the conformance suite any `ConsensusCore` must pass.
 *
 * - `CoreCluster`: a deterministic harness (one seed) over a `CoreFactory`, with a simulated
 *   network (drops, delays, duplicates, reordering, partitions) and simulated disks (crash,
 *   restart from what was durably written), following the `Ready` duties step by step.
 * - The safety checkers run continuously inside it (`SafetyMonitor`); liveness is checked by
 *   the scenarios (`expectLiveness`).
 * - `SCENARIOS` / `scenarioByName`: the scenarios, reusable by the simulator CLI.
 * - `describeConformance(name, factory, options)`: the vitest suite over several seeds.
 */
export { CoreCluster, type ClusterOptions } from './cluster.js'
export { SimNetwork, RELIABLE_NETWORK, type NetworkOptions } from './network.js'
export { SimDisk } from './disk.js'
export { SafetyMonitor, type MonitorOptions } from './monitor.js'
export { ConformanceError, type FailureContext, type Property } from './failure.js'
export { encodeAppliedLog, decodeAppliedLog } from './snapshot-codec.js'
export { entryKey, utf8, fromUtf8 } from './identity.js'
export { clusterFor, report, type Scenario, type ScenarioOptions, type ScenarioReport } from './scenario.js'
export {
  SCENARIOS, scenarioByName, electionAndReplication, leaderCrash, minorityPartition, randomFaults, electionStorm,
  snapshotCatchUp, chunkedSnapshotCatchUp, proposalBurst, type ScenarioEntry,
} from './scenarios.js'
export { membershipChanges } from './membership-scenarios.js'
export { overwrittenInFlight, pipelineStorm, stalledElection, stalledFollowerDisks, stalledLeaderDisk } from './pipeline-scenarios.js'
export { runFaultProfile, RANDOM_FAULTS, ELECTION_STORM, PIPELINE_STORM, type FaultProfile } from './random-faults.js'
export {
  awaitLeader, commitOn, durableLastIndex, expectAppliedInOrder, expectLiveness, payload, proposeAccepted,
} from './scenario-steps.js'
export { describeConformance, replayCommand, REPLAY_SEED_VARIABLE, type ConformanceOptions } from './conformance.js'
