import { assert, type Entry, type NodeId, type ProposeResult, type Ready } from '@kv/consensus'
import type { Accepted } from './messages.js'
import { startReadRound } from './heartbeat.js'
import { planRecovery, type PromiseReport } from './recovery.js'
import { onAcceptAnswered } from './replication.js'
import { RetransmitTimer } from './retransmit.js'
import type { LeaderState, PaxosState } from './state.js'
import { sendNow, writeSlot } from './state.js'

/**
 * The distinguished proposer ("Paxos Made Moderately Complex" §3, Leader/Commander): one
 * phase 1 for all slots above its watermark, then phase 2 per slot at its ballot.
 */

function propose(s: PaxosState, leader: LeaderState, entry: Entry): void {
  writeSlot(s, entry)
  // The leader's own acceptance counts once it is durable: see `countOwnAcceptance`.
  leader.votes.set(entry.index, new Set())
}

/** Phase 1 succeeded for `ballot`: re-propose the recovered slots, then lead. */
export function becomeLeader(s: PaxosState, ballot: number, reports: readonly PromiseReport[]): void {
  const recovery = planRecovery(s.commitIndex, reports, ballot)
  const recoveryThrough = recovery.at(-1)?.index ?? s.commitIndex
  const leader: LeaderState = {
    ballot,
    ticks: 0,
    nextSlot: recoveryThrough + 1,
    recoveryThrough,
    votes: new Map(),
    peers: new Map(),
    heartbeatElapsed: 0,
    catchUpElapsed: 0,
  }
  for (const peer of s.peers) {
    leader.peers.set(peer, {
      next: s.commitIndex + 1,
      inflight: [],
      retransmit: new RetransmitTimer(s.config.heartbeatTicks, s.config.heartbeatTicks),
      lastHeardTick: 0,
      heartbeatSentTick: 0,
      learnOutstanding: false,
      snapshotTransfer: null,
      commitSent: 0,
    })
  }
  s.role = 'leader'
  s.leader = s.id
  s.candidate = null
  s.proposer = leader
  for (const entry of recovery) propose(s, leader, entry)
  // Announce the new ballot at once, so followers stop their election timers.
  for (const peer of s.peers) {
    sendNow(s, peer, { type: 'heartbeat', term: ballot, commitIndex: s.commitIndex, readRound: 0 })
  }
}

/** A new value goes to the next free slot, after every recovered one. */
export function proposeValue(s: PaxosState, data: Uint8Array): ProposeResult {
  const leader = s.proposer
  if (s.role !== 'leader' || leader === null) return { type: 'not-leader', leader: s.leader }
  let slot = leader.nextSlot
  while (s.options.skipSlots.has(slot)) slot += 1
  propose(s, leader, { type: 'normal', index: slot, term: leader.ballot, data })
  leader.nextSlot = slot + 1
  return { index: slot, term: leader.ballot }
}

/** Advance the chosen watermark over every slot a quorum accepted; never past a hole. */
export function advanceCommit(s: PaxosState): void {
  const leader = s.proposer
  if (leader === null) return
  const before = s.commitIndex
  for (;;) {
    const votes = leader.votes.get(s.commitIndex + 1)
    if (votes === undefined || votes.size < s.quorum) break
    leader.votes.delete(s.commitIndex + 1)
    s.commitIndex += 1
  }
  if (s.commitIndex > before) startReadRound(s)
}

function vote(s: PaxosState, leader: LeaderState, slot: number, acceptor: NodeId): void {
  leader.votes.get(slot)?.add(acceptor)
}

export function onAccepted(s: PaxosState, msg: Accepted): void {
  const leader = s.proposer
  if (leader === null || msg.term !== leader.ballot) return
  const progress = leader.peers.get(msg.from)
  assert(progress !== undefined, () => `no progress for ${msg.from}`)
  progress.lastHeardTick = leader.ticks
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
