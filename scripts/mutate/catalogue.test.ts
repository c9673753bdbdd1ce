import { describe, expect, it } from 'vitest'
import { checksFor, simChecks } from './catalogue.js'
import type { Mutation } from './types.js'

const mutation = (sim: Mutation['sim']): Mutation => ({
  name: 'm',
  description: 'd',
  file: 'f.ts',
  search: 's',
  replace: 'r',
  checks: [{ files: ['a.test.ts'] }, { files: ['b.test.ts'] }],
  ...(sim === undefined ? {} : { sim }),
})

describe('checksFor', () => {
  const both = mutation([{ protocol: 'raft', seeds: 40 }, { protocol: 'paxos', seeds: 300 }])

  it('runs the vitest checks, then one fuzzer run per protocol', () => {
    expect(checksFor(both).map((c) => (c.kind === 'sim' ? `sim ${c.check.protocol} ${c.check.seeds}` : c.check.files[0]))).toEqual([
      'a.test.ts',
      'b.test.ts',
      'sim raft 40',
      'sim paxos 300',
    ])
  })

  it('quick: only the first check; simOnly: only the fuzzer runs, at the seeds asked for', () => {
    expect(checksFor(both, { quick: true })).toEqual([{ kind: 'vitest', check: { files: ['a.test.ts'] } }])
    expect(checksFor(both, { simOnly: true, simSeeds: 1000 })).toEqual([
      { kind: 'sim', check: { protocol: 'raft', seeds: 1000 } },
      { kind: 'sim', check: { protocol: 'paxos', seeds: 1000 } },
    ])
    expect(checksFor(mutation(undefined), { simOnly: true })).toEqual([])
  })

  it('takes one sim check or a list', () => {
    expect(simChecks(mutation({ protocol: 'paxos', seeds: 5 }))).toEqual([{ protocol: 'paxos', seeds: 5 }])
    expect(simChecks(mutation(undefined))).toEqual([])
  })
})
