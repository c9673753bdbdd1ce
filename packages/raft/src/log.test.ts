import { describe, expect, it } from 'vitest'
import { initialMembership, InvariantError, type Entry } from '@kv/consensus'
import { RaftLog } from './log.js'

const GROUP = initialMembership(['n1', 'n2', 'n3'])

function noop(index: number, term: number): Entry {
  return { type: 'noop', index, term }
}

/** A log holding entries with the given terms (index 1, 2, ...), all handed out and durable. */
function logWithTerms(...terms: number[]): RaftLog {
  const entries = terms.map((t, i) => noop(i + 1, t))
  return RaftLog.restore({ hardState: { term: terms.at(-1) ?? 0, vote: null, commit: 0 }, snapshot: null, entries }, GROUP)
}

function terms(log: RaftLog): number[] {
  const out: number[] = []
  for (let i = log.firstIndex(); i <= log.lastIndex(); i++) out.push(log.term(i)!)
  return out
}

describe('RaftLog', () => {
  it.each([
    { name: 'appends new entries', log: [1, 1], prev: [2, 1], entries: [1, 2], want: [1, 1, 1, 2], cut: null },
    { name: 'ignores entries it already holds', log: [1, 1, 2], prev: [1, 1], entries: [1], want: [1, 1, 2], cut: null },
    { name: 'truncates a conflicting suffix', log: [1, 1, 2, 2], prev: [2, 1], entries: [3], want: [1, 1, 3], cut: 3 },
    { name: 'refuses a missing prev entry', log: [1], prev: [2, 1], entries: [1], want: [1], cut: null },
    { name: 'refuses a prev term mismatch', log: [1, 2], prev: [2, 3], entries: [3], want: [1, 2], cut: null },
  ])('maybeAppend $name', ({ log: initial, prev, entries, want, cut }) => {
    const log = logWithTerms(...initial)
    const [prevIndex, prevTerm] = prev as [number, number]
    const result = log.maybeAppend(prevIndex, prevTerm, entries.map((t, i) => noop(prevIndex + 1 + i, t)))
    const accepted = initial[prevIndex - 1] === prevTerm || prevIndex === 0
    expect(result).toBe(accepted ? prevIndex + entries.length : null)
    expect(terms(log)).toEqual(want)
    expect(log.pendingTruncateFrom).toBe(cut)
    log.checkInvariants()
  })

  it('never truncates a committed entry', () => {
    const log = logWithTerms(1, 1, 2)
    log.commitTo(3)
    expect(() => log.maybeAppend(2, 1, [noop(3, 3)])).toThrow(InvariantError)
  })

  it.each([
    { log: [1, 1, 2, 2, 2, 4], index: 6, term: 3, want: { index: 5, term: 2 } },
    { log: [1, 1, 2, 2, 2, 4], index: 6, term: 4, want: { index: 6, term: 4 } },
    { log: [1, 3, 3], index: 10, term: 2, want: { index: 1, term: 1 } },
    { log: [2, 2], index: 2, term: 1, want: { index: 0, term: 0 } },
  ])('findConflictByTerm($index, $term) on $log', ({ log, index, term, want }) => {
    expect(logWithTerms(...log).findConflictByTerm(index, term)).toEqual(want)
  })

  it('isUpToDate compares last term first, then length (Raft §5.4.1)', () => {
    const log = logWithTerms(1, 2, 2)
    expect(log.isUpToDate(1, 3)).toBe(true)
    expect(log.isUpToDate(3, 2)).toBe(true)
    expect(log.isUpToDate(2, 2)).toBe(false)
    expect(log.isUpToDate(9, 1)).toBe(false)
  })

  it('installing a snapshot keeps a suffix that follows it', () => {
    const log = logWithTerms(1, 1, 2, 2)
    log.installSnapshot({ index: 3, term: 2, data: new Uint8Array() })
    expect(log.firstIndex()).toBe(4)
    expect(terms(log)).toEqual([2])
    expect(log.pendingTruncateFrom).toBeNull()
    const { entries, committed, truncateFrom, token } = log.beginReady()
    expect({ entries, committed, truncateFrom, snapshot: token.snapshot?.index }).toEqual({
      entries: [], committed: [], truncateFrom: null, snapshot: 3,
    })
    log.endReady(token)
    expect(log.appliedIndex).toBe(3)
    log.checkInvariants()
  })

  it('installing a snapshot from another history discards the whole log', () => {
    const log = logWithTerms(1, 1, 2, 2)
    log.installSnapshot({ index: 3, term: 3, data: new Uint8Array() })
    expect(log.lastIndex()).toBe(3)
    expect(log.lastTerm()).toBe(3)
    // The shell still holds entries 1..4 of the old history: cut everything uncommitted.
    expect(log.beginReady().truncateFrom).toBe(1)
  })

  it('counts entries durable only when their Ready is advanced, minus what was cut since', () => {
    const log = logWithTerms(1)
    log.maybeAppend(1, 1, [noop(2, 1), noop(3, 1)])
    const first = log.beginReady()
    expect(first.entries.map((e) => e.index)).toEqual([2, 3])
    expect(log.durableTo).toBe(1)
    log.maybeAppend(1, 1, [noop(2, 2)]) // a new leader replaces index 2 and 3 meanwhile
    log.endReady(first.token)
    expect(log.durableTo).toBe(1)
    const second = log.beginReady()
    expect(second.truncateFrom).toBe(2)
    expect(second.entries).toEqual([noop(2, 2)])
    log.endReady(second.token)
    expect(log.durableTo).toBe(2)
    log.checkInvariants()
  })

  it('restores from persisted state and refuses a log with gaps', () => {
    const log = RaftLog.restore({
      hardState: { term: 2, vote: 'n1', commit: 3 },
      snapshot: { index: 2, term: 1, data: new Uint8Array() },
      entries: [noop(2, 1), noop(3, 2), noop(4, 2)],
    }, GROUP)
    expect({ first: log.firstIndex(), last: log.lastIndex(), commit: log.commitIndex, applied: log.appliedIndex })
      .toEqual({ first: 3, last: 4, commit: 3, applied: 2 })
    expect(log.beginReady().committed.map((e) => e.index)).toEqual([3])
    expect(() => RaftLog.restore({ hardState: null, snapshot: null, entries: [noop(1, 1), noop(3, 1)] }, GROUP))
      .toThrow(InvariantError)
  })
})
