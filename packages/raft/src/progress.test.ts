import { SnapshotSender } from '@kv/consensus'
import { describe, expect, it } from 'vitest'
import { Progress } from './progress.js'

describe('Progress flow control', () => {
  it('probes one message at a time', () => {
    const pr = new Progress(5, 3, 0)
    expect(pr.isPaused()).toBe(false)
    pr.onEntriesSent(7)
    expect(pr.isPaused()).toBe(true)
    expect(pr.nextIndex).toBe(5) // probing does not advance nextIndex optimistically
  })

  it('pipelines up to maxInflight messages in replicate state, freeing them on acks', () => {
    const pr = new Progress(1, 2, 0)
    pr.maybeUpdate(4)
    pr.becomeReplicate()
    pr.onEntriesSent(6)
    pr.onEntriesSent(8)
    expect(pr.nextIndex).toBe(9)
    expect(pr.isPaused()).toBe(true)
    pr.maybeUpdate(6)
    expect(pr.inflight).toEqual([8])
    expect(pr.isPaused()).toBe(false)
  })

  it('falls back to probing from the hint after a rejection in replicate state', () => {
    const pr = new Progress(1, 2, 0)
    pr.maybeUpdate(4)
    pr.becomeReplicate()
    pr.onEntriesSent(10)
    expect(pr.maybeDecreaseTo(4, 3)).toBe(false) // stale: index 4 is known to match
    expect(pr.maybeDecreaseTo(10, 7)).toBe(true)
    expect({ state: pr.state, next: pr.nextIndex, inflight: pr.inflight }).toEqual({ state: 'probe', next: 8, inflight: [] })
  })

  it('ignores a probe rejection that does not answer the last probe', () => {
    const pr = new Progress(10, 2, 0)
    pr.onEntriesSent(12)
    expect(pr.maybeDecreaseTo(5, 2)).toBe(false)
    expect(pr.maybeDecreaseTo(9, 2)).toBe(true)
    expect(pr.nextIndex).toBe(3)
    expect(pr.isPaused()).toBe(false)
  })

  it('pauses entirely while a snapshot is on its way', () => {
    const pr = new Progress(1, 2, 0)
    pr.becomeSnapshot(new SnapshotSender({ index: 20, term: 1, data: new Uint8Array(10) }, 4, 2, 3))
    expect(pr.isPaused()).toBe(true)
    expect(pr.pendingSnapshotIndex).toBe(20)
    pr.becomeProbe()
    expect(pr.transfer).toBeNull()
  })
})
