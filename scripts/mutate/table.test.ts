import { describe, expect, it } from 'vitest'
import { catchCell, checkLabel, formatTable, resultsTable, summarize, summaryLine } from './table.js'
import type { MutationResult } from './types.js'

const result = (over: Partial<MutationResult> & Pick<MutationResult, 'name' | 'status'>): MutationResult => ({
  file: 'packages/x/src/x.ts',
  caughtBy: null,
  catchMs: null,
  seeds: null,
  detail: null,
  checks: [],
  totalMs: 0,
  ...over,
})

describe('formatTable', () => {
  it('pads every column but the last to its widest cell', () => {
    expect(formatTable(['a', 'bb', 'c'], [['long cell', 'x', 'last'], ['y', 'wider cell', '']])).toBe(
      ['a         | bb         | c', '----------|------------|-----', 'long cell | x          | last', 'y         | wider cell |'].join('\n'),
    )
  })

  it('keeps each row on one line', () => {
    expect(formatTable(['h'], [['one\n  two']])).toBe('h\n-------\none two')
  })
})

describe('resultsTable', () => {
  it('shows the catching check and its time, SURVIVED, or the error', () => {
    const table = resultsTable([
      result({ name: 'wal-no-fdatasync', status: 'caught', caughtBy: 'power-loss.test.ts', catchMs: 2140 }),
      result({ name: 'raft-vote', status: 'caught', caughtBy: 'sim --protocol raft --seeds 50', catchMs: 12_600, seeds: 3 }),
      result({ name: 'paxos-holes', status: 'survived' }),
      result({ name: 'broken', status: 'error', detail: 'search text not found' }),
    ])
    expect(table.split('\n')).toEqual([
      'mutation         | caught by                      | time to catch',
      '-----------------|--------------------------------|--------------',
      'wal-no-fdatasync | power-loss.test.ts             | 2.1s',
      'raft-vote        | sim --protocol raft --seeds 50 | 13s (3 seeds)',
      'paxos-holes      | SURVIVED                       | -',
      'broken           | ERROR: search text not found   | -',
    ])
  })

  it('shortens a long error to keep the table readable', () => {
    const cell = resultsTable([result({ name: 'x', status: 'error', detail: 'e'.repeat(200) })]).split('\n')[2]!
    expect(cell).toBe(`x        | ERROR: ${'e'.repeat(59)}… | -`)
  })

  it('says "1 seed", not "1 seeds"', () => {
    expect(catchCell(result({ name: 'x', status: 'caught', catchMs: 500, seeds: 1 }))).toBe('0.5s (1 seed)')
  })
})

describe('summary line', () => {
  it('counts mutations, caught and survived; errors are neither', () => {
    const s = summarize([
      result({ name: 'a', status: 'caught' }),
      result({ name: 'b', status: 'survived' }),
      result({ name: 'c', status: 'error' }),
      result({ name: 'd', status: 'caught' }),
    ])
    expect(s).toEqual({ mutations: 4, caught: 2, survived: 1, errors: 1 })
    expect(summaryLine(s)).toBe('mutations=4 caught=2 survived=1')
  })
})

describe('checkLabel', () => {
  it('reads like the command that runs the check', () => {
    expect(checkLabel({ kind: 'vitest', check: { files: ['a.test.ts'], name: 'Figure 8' } })).toBe('a.test.ts -t "Figure 8"')
    expect(checkLabel({ kind: 'vitest', check: { files: ['a.test.ts', 'b.test.ts'] } })).toBe('a.test.ts b.test.ts')
    expect(checkLabel({ kind: 'sim', check: { protocol: 'paxos', seeds: 20 } })).toBe('sim --protocol paxos --seeds 20')
  })
})
