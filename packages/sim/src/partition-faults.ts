/**
 * Long partitions: a group's leader cut off for several election timeouts (with a minority
 * and some clients, sometimes frozen as the partition begins, or only on its inbound links),
 * and the final one-way cut of every leader. Drawn from the run's PRNG through the scope.
 */
import { faultTolerance, type FaultScope, type NemesisGroup } from './fault-kinds.js'

/**
 * The leader (or any replica, if none leads) is cut off for 3..15 election timeouts, then
 * healed. Either with a minority of its group and some of the clients, which keep sending
 * it requests (a symmetric partition), or alone and only inbound (it still reaches its
 * peers: a leader that never steps down would hold them in its lease forever).
 */
export function longPartition(s: FaultScope, group: NemesisGroup): void {
  const leader = s.leaderOf(group)
  const victim = leader ?? s.pickOne(group.nodes)
  const oneWay = s.rng.chance(0.35)
  const timeouts = oneWay ? 12 + s.rng.int(9) : 3 + s.rng.int(13)
  const ms = timeouts * s.context.electionTimeoutMs
  const peers = group.nodes.filter((n) => n !== victim)
  if (oneWay) {
    for (const p of peers) s.net.cutLink(p.id, victim.id)
    s.log(`one-way partition: ${victim.id} hears no peer for ${ms.toFixed(0)}ms`)
    s.queue.after(ms, () => {
      if (peers.some((p) => s.net.canReach(p.id, victim.id))) return // healed meanwhile
      for (const p of peers) s.net.restoreLink(p.id, victim.id)
      s.log(`heal one-way partition of ${victim.id}`)
    })
    return
  }
  const minority = [victim, ...shuffled(s.rng, peers).slice(0, s.rng.int(faultTolerance(group)))]
  const stranded = s.context.clients().filter(() => s.rng.chance(0.5))
  const sides = [[...minority.map((n) => n.id), ...stranded], peers.filter((n) => !minority.includes(n)).map((n) => n.id)]
  s.net.partition(sides)
  const generation = s.net.generation
  s.log(`long partition ${sides[0]!.join(',')} | ${sides[1]!.join(',')} for ${ms.toFixed(0)}ms`)
  // Frozen, then cut off: the leader is paused as the partition begins and wakes up in it,
  // its timers an election timeout or more behind its peers' (a VM frozen while its
  // network failed). It believes it heard from a quorum just now and leads on, while the
  // majority elected another leader during the freeze.
  if (victim.alive && !victim.paused && s.rng.chance(0.5)) {
    const frozenMs = Math.min(ms / 2, (1.5 + 2.5 * s.rng.next()) * s.context.electionTimeoutMs)
    victim.pause()
    s.log(`pause ${victim.id} for ${frozenMs.toFixed(0)}ms`)
    s.queue.after(frozenMs, () => {
      if (!victim.paused) return
      victim.resume()
      s.log(`resume ${victim.id}`)
    })
  }
  s.queue.after(ms, () => {
    if (s.net.generation !== generation) return
    s.net.healSides()
    s.log('heal long partition')
  })
}

/** `finalOneWayCut`: every group's leader stops hearing its peers (see `NemesisOptions`). */
export function cutLeadersInbound(s: FaultScope, groups: readonly NemesisGroup[]): void {
  for (const g of groups) {
    const leader = s.leaderOf(g)
    if (leader === null) continue
    for (const p of g.nodes) if (p !== leader) s.net.cutLink(p.id, leader.id)
    s.log(`one-way partition: ${leader.id} hears no peer (to the end)`)
  }
}

function shuffled<T>(rng: FaultScope['rng'], xs: readonly T[]): T[] {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}
