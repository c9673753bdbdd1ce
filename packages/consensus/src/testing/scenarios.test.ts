import { describe, expect, it } from 'vitest'
import { ConformanceError } from './failure.js'
import { createFixedLeader } from './fakes/fixed-leader-core.js'
import { scripted } from './fakes/scripted-core.js'
import { electionAndReplication, proposalBurst, SCENARIOS, scenarioByName, snapshotCatchUp } from './scenarios.js'
import { replayCommand } from './conformance.js'

// The scenarios that need no election run against the fixed-leader core: they pass on a
// correct core, so a failure of the real cores there is theirs, not the suite's.
describe('scenarios on a correct fixed-leader core', () => {
  for (const seed of [1, 2]) {
    it(`replication in order (seed ${seed})`, () => {
      expect(electionAndReplication(createFixedLeader, { seed, strictLogMatching: true }).committed).toBe(20)
    })
    it(`catch-up by snapshot (seed ${seed})`, () => {
      expect(snapshotCatchUp(createFixedLeader, { seed, strictLogMatching: true }).committed).toBeGreaterThanOrEqual(61)
    })
    it(`a burst (seed ${seed})`, () => {
      expect(proposalBurst(createFixedLeader, { seed, strictLogMatching: true }).committed).toBe(300)
    })
  }

  it('reports the same run for the same seed', () => {
    expect(proposalBurst(createFixedLeader, { seed: 3 })).toEqual(proposalBurst(createFixedLeader, { seed: 3 }))
  })
})

describe('scenario failures', () => {
  it('name the scenario, seed and replay command', () => {
    const never = scripted(() => {})
    const replay = replayCommand('fake', 'election', 4)
    let caught: unknown
    try {
      electionAndReplication(never, { seed: 4, label: 'fake: election', replay })
    } catch (e) {
      caught = e
    }
    expect(caught).toBeInstanceOf(ConformanceError)
    const message = (caught as ConformanceError).message
    expect(message).toContain('[liveness] electing a leader did not happen')
    expect(message).toContain('scenario: fake: election')
    expect(message).toContain('seed: 4')
    expect(message).toContain('CONFORMANCE_SEED=4 pnpm vitest run packages/sim/src/conformance.test.ts -t "fake conformance election "')
  })

  it('have unique names that find them again', () => {
    const names = SCENARIOS.map((s) => s.name)
    expect(new Set(names).size).toBe(names.length)
    for (const name of names) expect(scenarioByName(name)?.name).toBe(name)
    expect(names.every((a) => names.every((b) => a === b || !`${b} `.startsWith(`${a} `)))).toBe(true)
  })
})
