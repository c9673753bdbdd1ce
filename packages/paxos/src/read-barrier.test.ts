import { describe, expect, it } from 'vitest'
import { MAX_PENDING_READS } from './limits.js'
import { ReadBarrier } from './read-barrier.js'

/** A quorum of `n` acknowledgements, whoever sent them. */
const atLeast = (n: number) => (acks: ReadonlySet<string>): boolean => acks.size >= n

describe('ReadBarrier', () => {
  it('answers a round once a quorum (the leader included) acknowledged it', () => {
    const reads = new ReadBarrier()
    reads.enqueue(1)
    reads.enqueue(2)
    const round = reads.startRound(10, 'n1')!
    expect(reads.acknowledge('n2', round + 1, atLeast(3))).toEqual([])
    expect(reads.acknowledge('n2', round, atLeast(3))).toEqual([])
    expect(reads.acknowledge('n2', round, atLeast(3))).toEqual([])
    expect(reads.acknowledge('n3', round, atLeast(3))).toEqual([
      { ctx: 1, index: 10 },
      { ctx: 2, index: 10 },
    ])
  })

  it("does not count a learner's acknowledgement toward the quorum", () => {
    const reads = new ReadBarrier()
    reads.enqueue(1)
    const round = reads.startRound(7, 'n1')!
    const voters = new Set(['n1', 'n2', 'n3'])
    const isQuorum = (acks: ReadonlySet<string>): boolean => [...acks].filter((id) => voters.has(id)).length >= 2
    expect(reads.acknowledge('learner', round, isQuorum)).toEqual([])
    expect(reads.acknowledge('n3', round, isQuorum)).toEqual([{ ctx: 1, index: 7 }])
  })

  it('keeps reads that arrive during a round for the next one', () => {
    const reads = new ReadBarrier()
    reads.enqueue(1)
    const first = reads.startRound(4, 'n1')!
    reads.enqueue(2)
    expect(reads.startRound(5, 'n1')).toBeNull()
    expect(reads.acknowledge('n2', first, atLeast(2))).toEqual([{ ctx: 1, index: 4 }])
    const second = reads.startRound(6, 'n1')!
    expect(second).toBeGreaterThan(first)
    expect(reads.acknowledge('n2', second, atLeast(2))).toEqual([{ ctx: 2, index: 6 }])
  })

  it('fails every pending read on step-down', () => {
    const reads = new ReadBarrier()
    reads.enqueue(1)
    reads.startRound(4, 'n1')
    reads.enqueue(2)
    expect(reads.failAll()).toEqual([
      { ctx: 1, index: null },
      { ctx: 2, index: null },
    ])
    expect(reads.pending).toBe(0)
  })

  it('refuses a read when the queue is full', () => {
    const reads = new ReadBarrier()
    for (let i = 0; i < MAX_PENDING_READS; i++) reads.enqueue(i)
    expect(reads.pending).toBe(MAX_PENDING_READS)
    expect(reads.enqueue(-1)).toEqual({ ctx: -1, index: null })
  })
})
