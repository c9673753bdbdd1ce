import { hasQuorum, type Entry, type NodeId, type ProposeResult, type Ready } from '@kv/consensus'
import { noteChosen } from './configs.js'
import type { Accepted } from './messages.js'
import { startReadRound } from './heartbeat.js'
import { onAcceptAnswered } from './replication.js'
import { RetransmitTimer } from './retransmit.js'
import type { LeaderState, PaxosState, PeerProgress } from './state.js'
import { sendNow } from './state.js'
import { releaseWaiting, take } from './window.js'

/**
 * The distinguished proposer ("Paxos Made Moderately Complex" §3, Leader/Commander): one
 * phase 1 for all slots above its watermark, then phase 2 per slot at its ballot.
 */

/** What the leader tracks of a replica it starts leading (or that joins meanwhile). */
export function newPeerProgress(s: PaxosState, leader: LeaderState): PeerProgress {
  return {
    next: s.commitIndex + 1,
    inflight: [],
    retransmit: new RetransmitTimer(s.config.heartbeatTicks, s.config.heartbeatTicks),
    lastHeardTick: leader.ticks,
    heartbeatSentTick: 0,
    learnOutstanding: false,
    snapshotTransfer: null,
    commitSent: 0,
    reportedCommit: 0,
  }
}

/**
 * Phase 1 succeeded for `ballot`: re-propose the recovered slots (`recovery`, from
 * `planRecovery`), then lead. `peers`: every replica it leads (see `leaderPeers`).
 */
export function becomeLeader(s: PaxosState, ballot: number, recovery: readonly Entry[], peers: readonly NodeId[]): void {
  const recoveryThrough = recovery.at(-1)?.index ?? s.commitIndex
  const change = recovery.findLast((e) => e.type === 'membership')
  const leader: LeaderState = {
    ballot,
    ticks: 0,
    nextSlot: recoveryThrough + 1,
    waiting: [],
    changeSlot: change?.index ?? null,
    recoveryThrough,
    votes: new Map(),
    peers: new Map(),
    heartbeatElapsed: 0,
    catchUpElapsed: 0,
  }
  for (const peer of peers) leader.peers.set(peer, newPeerProgress(s, leader))
  s.role = 'leader'
  s.leader = s.id
  s.candidate = null
  s.proposer = leader
  for (const entry of recovery) take(s, leader, entry)
  // Announce the new ballot at once, so followers stop their election timers.
  for (const peer of peers) {
    sendNow(s, peer, { type: 'heartbeat', term: ballot, commitIndex: s.commitIndex, readRound: 0 })
  }
}

/** A new value goes to the next free slot, after every recovered one. */
export function proposeValue(s: PaxosState, data: Uint8Array): ProposeResult {
  const leader = s.proposer
  if (s.role !== 'leader' || leader === null) return { type: 'not-leader', leader: s.leader }
  const slot = takeSlot(s, leader)
  take(s, leader, { type: 'normal', index: slot, term: leader.ballot, data })
  return { index: slot, term: leader.ballot }
}

/** The next free slot (past the test switch's holes); it is the caller's from now on. */
export function takeSlot(s: PaxosState, leader: LeaderState): number {
  let slot = leader.nextSlot
  while (s.options.skipSlots.has(slot)) slot += 1
  leader.nextSlot = slot + 1
  return slot
}

/**
 * Advance the chosen watermark over every slot a quorum of its own membership accepted (the
 * alpha rule fixes that membership before the slot is proposed); never past a hole. Chosen
 * memberships are recorded as the watermark passes them, and the window moves on.
 */
export function advanceCommit(s: PaxosState): void {
  const leader = s.proposer
  if (leader === null) return
  const before = s.commitIndex
  for (;;) {
    const slot = s.commitIndex + 1
    const votes = leader.votes.get(slot)
    if (votes === undefined || !hasQuorum(s.configs.forSlot(slot), votes)) break
    leader.votes.delete(slot)
    s.commitIndex = slot
    noteChosen(s)
    if (leader.changeSlot === slot) leader.changeSlot = null
  }
  if (s.commitIndex === before) return
  releaseWaiting(s, leader)
  startReadRound(s)
}

function vote(s: PaxosState, leader: LeaderState, slot: number, acceptor: NodeId): void {
  leader.votes.get(slot)?.add(acceptor)
}

export function onAccepted(s: PaxosState, msg: Accepted): void {
  const leader = s.proposer
  if (leader === null || msg.term !== leader.ballot) return
  // A replica that left the group meanwhile has no progress any more: its answer is late.
  const progress = leader.peers.get(msg.from)
  if (progress === undefined) return
  progress.lastHeardTick = leader.ticks
  progress.reportedCommit = Math.max(progress.reportedCommit, msg.commitIndex)
  for (const slot of msg.slots) vote(s, leader, slot, msg.from)
  advanceCommit(s)
  onAcceptAnswered(s, leader, msg.from, progress, msg.slots)
}

/** The Ready that carried our own proposals is durable: they count as our acceptance (a
 * slot written again since, by a Ready still in flight, waits for that one). */
export function countOwnAcceptance(s: PaxosState, ready: Ready): void {
  const leader = s.proposer
  if (leader === null) return
  for (const entry of ready.entries) {
    if (entry.term === leader.ballot && s.unsynced.isDurable(entry.index)) vote(s, leader, entry.index, s.id)
  }
  advanceCommit(s)
}
