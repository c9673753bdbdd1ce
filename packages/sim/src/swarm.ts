import type { Rng } from '@kv/consensus'
import { enabledKinds, type FaultKind, type NemesisOptions } from './nemesis.js'
import { defaultReplication, type NodeReplication } from './node.js'
import type { Protocol } from './protocols.js'

/**
 * Swarm testing (Groce, Zhang, Eide, Chen, Regehr, "Swarm Testing", ISSTA 2012): a seed does
 * not draw from every fault kind at once. Each seed enables a random subset of the kinds the
 * nemesis knows, each at a random intensity and with a random weight in the nemesis's draws,
 * and now and then lets one kind dominate. A fault that another one masks (a pause hidden
 * by a crash of the same leader, a drift that a partition makes moot) thus gets seeds of
 * its own, and the mix still varies from seed to seed.
 *
 * `base` holds the classic kinds already drawn; this adds the newer ones and the weights.
 */
export function drawSwarm(r: Rng, base: NemesisOptions, protocol: Protocol, sharded: boolean): NemesisOptions {
  const o: NemesisOptions = { ...base }
  // 100..1000 ms between actions, log-uniform: some seeds are a storm of faults.
  o.intervalMs = Math.round(100 * Math.pow(10, r.next()))
  if (r.chance(0.5)) o.clockDrift = 1.2 + r.next() * 0.8
  if (r.chance(0.4)) o.maxPauseMs = 100 + r.int(900)
  o.transfers = r.chance(0.5)
  o.duels = r.chance(0.4)
  o.crashPoints = r.chance(0.4)
  if (r.chance(0.3)) o.maxDiskStallMs = 5 + r.int(76)
  o.longPartitions = r.chance(0.4)
  o.leaderHunts = r.chance(0.4)
  o.finalOneWayCut = r.chance(0.3)
  if ((protocol === 'paxos' || sharded) && r.chance(0.3)) {
    const slots = new Set<number>()
    for (let n = 2 + r.int(11); n > 0; n--) slots.add(3 + r.int(300))
    o.skipSlots = [...slots].sort((a, b) => a - b)
    o.holeHoldMs = 20 + r.int(280)
  }
  // The kinds the nemesis draws its actions from (skipped slots and the final cut are not actions).
  const kinds = enabledKinds(o).filter((k) => k !== 'skipSlots' && k !== 'finalOneWayCut')
  const weights: Partial<Record<FaultKind, number>> = {}
  // 1..16, log-uniform: most kinds near each other, some far apart.
  for (const k of kinds) weights[k] = Math.round(Math.pow(2, 4 * r.next()))
  // Half the seeds are dominated by one of their kinds.
  if (kinds.length > 1 && r.chance(0.5)) {
    const dominant = kinds[r.int(kinds.length)]!
    weights[dominant] = weights[dominant]! * 10
  }
  o.weights = weights
  return o
}

/**
 * The clients' side of the swarm: half the seeds have impatient clients (a replica that does
 * not answer within 20..250 ms is given up for the next; a client waiting out a deposed
 * leader for 250 ms misses the window where the new one already serves), and some clients
 * are readers (85..100 % gets): a writer blocks on its first write to a leader cut off
 * from its quorum, while a reader keeps asking it, and a leader that answers without
 * confirming its leadership answers it stale.
 */
export function drawClientSwarm(r: Rng, clients: number, defaultTimeoutMs: number): { requestTimeoutMs: number; readFractions: Array<number | null> } {
  const requestTimeoutMs = r.chance(0.5) ? Math.round(20 * Math.pow(defaultTimeoutMs / 20, r.next())) : defaultTimeoutMs
  const readFractions = Array.from({ length: clients }, () => (r.chance(0.3) ? 0.85 + 0.15 * r.next() : null))
  return { requestTimeoutMs, readFractions }
}

/**
 * The replication settings of a seed (CoreConfig): usually the simulator's (64 entries per
 * message, 4 in flight), otherwise small messages (mostly one entry each) and 1..4 in flight,
 * so that a new leader's catch-up of a follower, with its own first entry behind the old
 * ones, takes many round trips: Raft's Figure 8 needs the old entries to reach a majority
 * before the new one does.
 */
export function drawReplication(r: Rng): NodeReplication {
  if (!r.chance(0.4)) return defaultReplication
  return { maxEntriesPerMessage: [1, 1, 1, 2, 8][r.int(5)]!, maxInflightMessages: 1 + r.int(4) }
}
