import { describe, expect, it } from 'vitest'
import { MAX_PENDING_READS } from './limits.js'
import { ReadBarrier } from './read-barrier.js'

describe('ReadBarrier', () => {
  it('answers a round once a quorum (the leader included) acknowledged it', () => {
    const reads = new ReadBarrier()
    reads.enqueue(1)
    reads.enqueue(2)
    const round = reads.startRound(10, 'n1')!
    expect(reads.acknowledge('n2', round + 1, 3)).toEqual([])
    expect(reads.acknowledge('n2', round, 3)).toEqual([])
    expect(reads.acknowledge('n2', round, 3)).toEqual([])
    expect(reads.acknowledge('n3', round, 3)).toEqual([
      { ctx: 1, index: 10 },
      { ctx: 2, index: 10 },
    ])
  })

  it('keeps reads that arrive during a round for the next one', () => {
    const reads = new ReadBarrier()
    reads.enqueue(1)
    const first = reads.startRound(4, 'n1')!
    reads.enqueue(2)
    expect(reads.startRound(5, 'n1')).toBeNull()
    expect(reads.acknowledge('n2', first, 2)).toEqual([{ ctx: 1, index: 4 }])
    const second = reads.startRound(6, 'n1')!
    expect(second).toBeGreaterThan(first)
    expect(reads.acknowledge('n2', second, 2)).toEqual([{ ctx: 2, index: 6 }])
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
