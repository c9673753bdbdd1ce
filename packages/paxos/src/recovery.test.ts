import type { Entry } from '@kv/consensus'
import { describe, expect, it } from 'vitest'
import { planRecovery } from './recovery.js'
import { bytes, entryText } from './test-cluster.js'

const normal = (index: number, term: number, text: string): Entry => ({ type: 'normal', index, term, data: bytes(text) })
const shape = (plan: Entry[]): string[] => plan.map((e) => `${e.index}@${e.term}:${entryText(e)}`)

describe('planRecovery', () => {
  it('takes the value of the highest accepted ballot for each slot', () => {
    const plan = planRecovery(0, [
      { commitIndex: 0, accepted: [normal(1, 1, 'old')] },
      { commitIndex: 0, accepted: [normal(1, 4, 'new')] },
      { commitIndex: 0, accepted: [normal(1, 2, 'middle')] },
    ], 9)
    expect(shape(plan)).toEqual(['1@9:new'])
  })

  it('fills every slot nobody reported below the highest reported slot with a noop', () => {
    const plan = planRecovery(2, [{ commitIndex: 0, accepted: [normal(4, 1, 'd'), normal(6, 1, 'f')] }, { commitIndex: 0, accepted: [] }], 7)
    expect(shape(plan)).toEqual(['3@7:noop', '4@7:d', '5@7:noop', '6@7:f'])
  })

  it('ignores slots at or below the watermark and plans nothing when nothing is reported', () => {
    expect(planRecovery(5, [{ commitIndex: 5, accepted: [normal(3, 1, 'c')] }], 7)).toEqual([])
  })

  it("prefers a value the acceptor knows chosen over a higher ballot's", () => {
    // An acceptor that learned slot 1 chosen may hold it at an older ballot.
    const plan = planRecovery(0, [
      { commitIndex: 1, accepted: [normal(1, 1, 'chosen')] },
      { commitIndex: 0, accepted: [normal(1, 3, 'loser')] },
    ], 8)
    expect(shape(plan)).toEqual(['1@8:chosen'])
  })

  it('keeps a noop as a noop', () => {
    const plan = planRecovery(0, [{ commitIndex: 0, accepted: [{ type: 'noop', index: 1, term: 2 }] }], 5)
    expect(plan).toEqual([{ type: 'noop', index: 1, term: 5 }])
  })
})
