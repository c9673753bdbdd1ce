/**
 * Membership changes under faults, in the simulator: replicas join as learners, are promoted,
 * voters are removed (the leader among them) and crashed ones replaced by brand-new replicas,
 * while clients run and replicas crash; every history is checked.
 */
import { describe, expect, it } from 'vitest'
import { noFaults } from './nemesis.js'
import type { Protocol } from './protocols.js'
import { runScenario, scenarioFor, type Scenario } from './run.js'

function membershipScenario(seed: number, protocol: Protocol): Scenario {
  const base = scenarioFor(seed, protocol)
  return {
    ...base,
    replicas: 3,
    durationMs: 4000,
    nemesis: { ...noFaults, crashes: true, membership: true, intervalMs: 120 },
  }
}

describe.each<Protocol>(['raft', 'paxos'])('%s membership changes in the simulator', (protocol) => {
  it.each([1, 2, 3])('replicas join, are promoted and removed, under crashes, and every history checks (seed %i)', (seed) => {
    const result = runScenario(membershipScenario(seed, protocol))
    expect(result.problems, `replay: membershipScenario(${seed}, ${protocol}) in membership.test.ts\n${result.faults.join('\n')}`).toEqual([])
    const changes = result.faults.filter((f) => f.includes('membership') && f.includes('→ index'))
    expect(changes.some((f) => f.includes('add-learner'))).toBe(true)
    expect(changes.some((f) => f.includes('promote'))).toBe(true)
    expect(changes.some((f) => f.includes('remove'))).toBe(true)
    expect(result.faults.some((f) => f.includes('retire'))).toBe(true)
  })
})
