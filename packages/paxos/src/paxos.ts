import {
  assert,
  isVoter,
  unreachable,
  type ConsensusCore,
  type MembershipChange,
  type CoreConfig,
  type PeerMessage,
  type PersistedState,
  type Snapshot,
  type Status,
} from '@kv/consensus'
import { onAccept, onCommit, onHeartbeat, onPrepare } from './acceptor.js'
import { isValidMessage, type GatewayContext } from './gateway.js'
import { onHeartbeatReply, onLearnReply, requestRead, tickLeader } from './heartbeat.js'
import { checkInvariants } from './invariants.js'
import { onAccepted, proposeValue } from './leader.js'
import { onInstallSnapshot, onLearn, onSnapshotReply } from './learner.js'
import { checkConfig, readOptions } from './limits.js'
import { Configs, noteChosen } from './configs.js'
import { proposeMembership, stepDownIfRemoved, syncPeers } from './reconfiguration.js'
import type { PaxosMessage } from './messages.js'
import { advanceReady, buildReady } from './ready.js'
import { createState, sendNow, type PaxosState } from './state.js'
import { onPrePrepare, onPrePromise, retryPrePrepare, startElection, tickPreVoteGrant } from './pre-vote.js'
import { onPromise, onReject, onTimeoutNow, retryPrepare } from './view-change.js'

/**
 * Restart from what the shell persisted. The loader is a gateway: the chosen watermark is
 * clamped to the gap-free prefix actually held, and the promise is raised to any accepted
 * ballot (accepting implies having promised it).
 */
function restore(s: PaxosState, persisted: PersistedState): void {
  const { snapshot, hardState } = persisted
  if (snapshot !== null) {
    s.log.installSnapshot(snapshot)
    s.commitIndex = snapshot.index
    s.handedOut = snapshot.index
    s.appliedIndex = snapshot.index
    s.configs = Configs.fromSnapshot(snapshot, s.config.members, s.options.alpha)
  }
  for (const entry of persisted.entries) if (entry.index > s.log.snapshotIndex) s.log.set(entry)
  s.promisedBallot = Math.max(hardState?.term ?? 0, s.log.highestBallot)
  const persistedCommit = hardState?.commit ?? 0
  while (s.commitIndex < persistedCommit && s.log.get(s.commitIndex + 1) !== undefined) s.commitIndex += 1
  noteChosen(s)
  s.handedOutHardState = hardState
}

function dispatch(s: PaxosState, msg: PaxosMessage): void {
  switch (msg.type) {
    case 'pre-prepare':
      return onPrePrepare(s, msg)
    case 'pre-promise':
      return onPrePromise(s, msg)
    case 'prepare':
      return onPrepare(s, msg)
    case 'promise':
      return onPromise(s, msg)
    case 'accept':
      return onAccept(s, msg)
    case 'accepted':
      return onAccepted(s, msg)
    case 'commit':
      return onCommit(s, msg)
    case 'heartbeat':
      return onHeartbeat(s, msg)
    case 'heartbeat-reply':
      return onHeartbeatReply(s, msg)
    case 'learn':
      return onLearn(s, msg)
    case 'install-snapshot':
      return onInstallSnapshot(s, msg)
    case 'learn-reply':
      return onLearnReply(s, msg)
    case 'snapshot-reply':
      return onSnapshotReply(s, msg)
    case 'reject':
      return onReject(s, msg)
    case 'timeout-now':
      return onTimeoutNow(s, msg)
    default:
      return unreachable(msg, 'message')
  }
}

function tick(s: PaxosState): void {
  tickPreVoteGrant(s)
  if (s.role === 'leader') return tickLeader(s)
  s.electionElapsed += 1
  if (s.electionElapsed >= s.electionTimeout) return startElection(s)
  // Under loss a view change is mostly lost messages: within its round, a pre-candidate or
  // candidate asks again whoever has not answered, every heartbeat interval.
  if (s.electionElapsed % s.config.heartbeatTicks !== 0) return
  if (s.role === 'pre-candidate') retryPrePrepare(s)
  else if (s.role === 'candidate') retryPrepare(s)
}

/** The snapshot kept, and sent to replicas that need it, carries the memberships that govern
 * the slots after it, as this replica's chosen log says. */
function compact(s: PaxosState, snapshot: Snapshot): void {
  assert(snapshot.index <= s.appliedIndex, () => `snapshot at ${snapshot.index} covers unapplied slots`)
  if (snapshot.index <= s.log.snapshotIndex) return
  s.log.installSnapshot({ ...snapshot, ...s.configs.snapshotFields(snapshot.index) })
  s.configs.pruneThrough(snapshot.index)
  for (const slot of s.out.entries.keys()) if (slot <= snapshot.index) s.out.entries.delete(slot)
  s.unsynced.dropThrough(snapshot.index)
}

function status(s: PaxosState): Status {
  return {
    id: s.id,
    role: s.role,
    term: s.promisedBallot,
    leader: s.leader,
    commitIndex: s.commitIndex,
    lastIndex: s.log.lastIndex,
    appliedIndex: s.appliedIndex,
    firstIndex: s.log.firstIndex,
    // In force: governing the next slot to choose (a chosen change takes over α slots on).
    membership: s.configs.forSlot(s.commitIndex + 1),
  }
}

/** After every event: a leader tracks the replicas of the memberships in force, and one
 * whose removal is chosen stops leading. */
function afterEvent(s: PaxosState): void {
  stepDownIfRemoved(s)
  if (s.proposer !== null) syncPeers(s, s.proposer)
}

/** Builds a Multi-Paxos core. Throws `PaxosConfigError` for a config that cannot work. */
export function createPaxos(config: CoreConfig): ConsensusCore {
  checkConfig(config)
  const s = createState(config, readOptions(config))
  if (config.persisted !== null) restore(s, config.persisted)
  const gateway: GatewayContext = {
    id: config.id,
    roster: () => s.configs.latest().membership.roster,
    maxEntriesPerMessage: config.maxEntriesPerMessage,
  }
  return {
    tick: () => {
      tick(s)
      afterEvent(s)
    },
    step: (msg: PeerMessage) => {
      if (isValidMessage(msg, gateway)) dispatch(s, msg)
      afterEvent(s)
    },
    propose: (data) => proposeValue(s, data),
    proposeMembership: (change: MembershipChange) => proposeMembership(s, change),
    readIndex: (ctx) => requestRead(s, ctx),
    ready: () => buildReady(s),
    advance: (ready) => {
      advanceReady(s, ready)
      afterEvent(s)
    },
    status: () => status(s),
    compact: (snapshot) => compact(s, snapshot),
    transferLeadership: (to) => {
      if (s.proposer !== null && to !== s.id && isVoter(s.configs.latest().membership, to)) {
        sendNow(s, to, { type: 'timeout-now', term: s.proposer.ballot })
      }
    },
    checkInvariants: () => checkInvariants(s),
  }
}
