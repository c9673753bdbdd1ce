import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SnapshotAssembly, SnapshotSender, isSnapshotChunk, type SnapshotChunk } from './snapshot-transfer.js'
import { createRng } from './random.js'
import type { Snapshot } from './types.js'

function snapshotOf(size: number, index = 7, term = 2): Snapshot {
  return { index, term, data: Uint8Array.from({ length: size }, (_, i) => i % 251) }
}

const offsets = (chunks: readonly SnapshotChunk[]) => chunks.map((c) => c.offset)

describe('SnapshotSender', () => {
  it('cuts the snapshot into chunks of at most chunkBytes, a window at a time', () => {
    const sender = new SnapshotSender(snapshotOf(10), 4, 2, 3)
    const first = sender.take()
    expect(first.map((c) => [c.offset, c.data.length, c.done])).toEqual([[0, 4, false], [4, 4, false]])
    expect(sender.take()).toEqual([]) // the window is full
    sender.onAck({ snapshotIndex: 7, offset: 4, accepted: true })
    expect(sender.take().map((c) => [c.offset, c.data.length, c.done])).toEqual([[8, 2, true]])
    expect(sender.take()).toEqual([]) // everything is out
  })

  it('sends an empty snapshot as one done chunk', () => {
    const sender = new SnapshotSender(snapshotOf(0), 4, 2, 3)
    expect(sender.take().map((c) => [c.offset, c.data.length, c.done])).toEqual([[0, 0, true]])
    expect(sender.take()).toEqual([])
  })

  it('resends from the acknowledged offset, not from 0, once two more acknowledgements name it', () => {
    const sender = new SnapshotSender(snapshotOf(40), 4, 4, 3)
    expect(offsets(sender.take())).toEqual([0, 4, 8, 12])
    sender.onAck({ snapshotIndex: 7, offset: 4, accepted: true })
    expect(offsets(sender.take())).toEqual([16])
    // The chunk at 4 was lost: the ones at 8 and 12 are acknowledged at 4 again.
    sender.onAck({ snapshotIndex: 7, offset: 4, accepted: true })
    expect(sender.take()).toEqual([])
    sender.onAck({ snapshotIndex: 7, offset: 4, accepted: true })
    expect(offsets(sender.take())).toEqual([4, 8, 12, 16])
    sender.onAck({ snapshotIndex: 7, offset: 4, accepted: true }) // the echo of the chunk at 16
    sender.onAck({ snapshotIndex: 7, offset: 4, accepted: true })
    expect(sender.take()).toEqual([])
    // The gap is filled: the follower had kept 8..20 aside.
    sender.onAck({ snapshotIndex: 7, offset: 20, accepted: true })
    expect(offsets(sender.take())).toEqual([20, 24, 28, 32])
  })

  it('resends a stalled window from the acknowledged offset after stallRounds rounds', () => {
    const sender = new SnapshotSender(snapshotOf(40), 4, 2, 2)
    sender.take()
    sender.onAck({ snapshotIndex: 7, offset: 4, accepted: true })
    expect(offsets(sender.take())).toEqual([8])
    expect(sender.onRound()).toBe(false) // it progressed this round
    expect(sender.onRound()).toBe(false)
    expect(sender.onRound()).toBe(true)
    expect(offsets(sender.take())).toEqual([4, 8])
  })

  it('starts over when the follower holds nothing of the snapshot (a restart)', () => {
    const sender = new SnapshotSender(snapshotOf(40), 4, 2, 3)
    sender.take()
    sender.onAck({ snapshotIndex: 7, offset: 8, accepted: true })
    expect(offsets(sender.take())).toEqual([8, 12])
    sender.onAck({ snapshotIndex: 7, offset: 0, accepted: false })
    expect(offsets(sender.take())).toEqual([0, 4])
    sender.onAck({ snapshotIndex: 7, offset: 0, accepted: false }) // the echo of the chunk at 12
    expect(sender.take()).toEqual([])
  })

  it('recovers from a late acknowledgement sent before the follower restarted', () => {
    const sender = new SnapshotSender(snapshotOf(40), 4, 4, 2)
    sender.take()
    sender.onAck({ snapshotIndex: 7, offset: 0, accepted: false }) // it restarted: start over
    expect(offsets(sender.take())).toEqual([0, 4, 8, 12])
    // An acknowledgement from before the restart arrives late, past what it holds now.
    sender.onAck({ snapshotIndex: 7, offset: 12, accepted: true })
    // The restarted follower got 0 but lost the chunk at 4: its answers name 4 from now on.
    sender.onAck({ snapshotIndex: 7, offset: 4, accepted: true })
    sender.onAck({ snapshotIndex: 7, offset: 4, accepted: true })
    expect(sender.onRound()).toBe(false) // progressed (to 12) this round
    expect(sender.onRound()).toBe(false)
    expect(sender.onRound()).toBe(true)
    expect(offsets(sender.take())[0]).toBe(4) // not 12: the gap it reports is filled
  })
})

describe('SnapshotAssembly', () => {
  it('joins the chunks into the snapshot once the last one arrives', () => {
    const snapshot = snapshotOf(10)
    const sender = new SnapshotSender(snapshot, 3, 10, 3)
    const assembly = new SnapshotAssembly()
    const outcomes = sender.take().map((c) => assembly.receive(5, c))
    expect(outcomes.slice(0, -1).map((o) => o.type === 'ack' && o.ack)).toEqual([
      { snapshotIndex: 7, offset: 3, accepted: true },
      { snapshotIndex: 7, offset: 6, accepted: true },
      { snapshotIndex: 7, offset: 9, accepted: true },
    ])
    expect(outcomes.at(-1)).toEqual({ type: 'complete', snapshot })
    expect(assembly.assembling).toBeNull()
    expect(assembly.bytesHeld).toBe(0)
  })

  it('keeps a chunk after a gap aside until the gap is filled, and takes a duplicate once', () => {
    const assembly = new SnapshotAssembly()
    const [a, b, c] = new SnapshotSender(snapshotOf(9), 3, 3, 3).take() as [SnapshotChunk, SnapshotChunk, SnapshotChunk]
    assembly.receive(1, a)
    expect(assembly.receive(1, c)).toEqual({ type: 'ack', ack: { snapshotIndex: 7, offset: 3, accepted: true } })
    expect(assembly.receive(1, a)).toEqual({ type: 'ack', ack: { snapshotIndex: 7, offset: 3, accepted: true } })
    expect(assembly.bytesHeld).toBe(3)
    expect(assembly.receive(1, b)).toEqual({ type: 'complete', snapshot: snapshotOf(9) })
  })

  it('keeps at most maxChunksAside chunks past a gap', () => {
    const assembly = new SnapshotAssembly(1)
    const chunks = new SnapshotSender(snapshotOf(12), 3, 4, 3).take()
    assembly.receive(1, chunks[0]!)
    assembly.receive(1, chunks[2]!)
    assembly.receive(1, chunks[3]!) // no room: dropped, sent again later
    expect(assembly.receive(1, chunks[1]!)).toMatchObject({ ack: { offset: 9 } })
    expect(assembly.receive(1, chunks[3]!).type).toBe('complete')
  })

  it('holds one snapshot at most: another snapshot or another leadership replaces it from offset 0', () => {
    const assembly = new SnapshotAssembly()
    const old = new SnapshotSender(snapshotOf(9, 7), 3, 3, 3).take()
    const newer = new SnapshotSender(snapshotOf(9, 9), 3, 3, 3).take()
    assembly.receive(1, old[0]!)
    // A middle chunk of another snapshot: refused with 0, the partial one is kept.
    expect(assembly.receive(1, newer[1]!)).toEqual({ type: 'ack', ack: { snapshotIndex: 9, offset: 0, accepted: false } })
    expect(assembly.assembling).toEqual({ index: 7, term: 2, origin: 1 })
    // Its first chunk: the partial one is dropped.
    assembly.receive(1, newer[0]!)
    expect(assembly.assembling).toEqual({ index: 9, term: 2, origin: 1 })
    expect(assembly.bytesHeld).toBe(3)
    // The same snapshot from a new leadership starts over too.
    assembly.receive(2, newer[0]!)
    expect(assembly.assembling).toEqual({ index: 9, term: 2, origin: 2 })
    expect(assembly.receive(2, newer[2]!)).toMatchObject({ ack: { offset: 3, accepted: true } }) // kept aside
  })

  it('delivers the exact snapshot through loss, duplication and reordering (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 17 }), fc.integer({ min: 1, max: 5 }), fc.integer(),
      (size, chunkBytes, window, seed) => {
        const rng = createRng(seed)
        const snapshot = snapshotOf(size)
        const sender = new SnapshotSender(snapshot, chunkBytes, window, 2)
        const assembly = new SnapshotAssembly()
        const network: SnapshotChunk[] = []
        for (let step = 0; step < 20_000; step++) {
          network.push(...sender.take())
          if (network.length === 0 || rng.chance(0.1)) {
            sender.onRound() // a heartbeat round
            continue
          }
          const [chunk] = network.splice(rng.int(network.length), 1) as [SnapshotChunk]
          if (rng.chance(0.2)) continue // lost
          if (rng.chance(0.1)) network.push(chunk) // duplicated, delivered later
          const outcome = assembly.receive(1, chunk)
          if (outcome.type === 'complete') {
            expect(outcome.snapshot).toEqual(snapshot)
            return
          }
          if (!rng.chance(0.2)) sender.onAck(outcome.ack) // else the acknowledgement is lost
        }
        throw new Error('the transfer never completed')
      },
    ), { numRuns: 300 })
  })
})

describe('the chunk gateway', () => {
  const chunk = { snapshotIndex: 3, snapshotTerm: 1, offset: 0, data: new Uint8Array(4), done: true }
  it.each([
    ['a good chunk', chunk, true],
    ['data over the chunk bound', { ...chunk, data: new Uint8Array(5) }, false],
    ['an end past the largest snapshot', { ...chunk, offset: 7 }, false],
    ['snapshot index 0', { ...chunk, snapshotIndex: 0 }, false],
    ['a fractional offset', { ...chunk, offset: 0.5 }, false],
    ['data that is not bytes', { ...chunk, data: [1, 2] }, false],
  ])('%s', (_name, m, ok) => {
    expect(isSnapshotChunk(m, 4, 10)).toBe(ok)
  })
})
