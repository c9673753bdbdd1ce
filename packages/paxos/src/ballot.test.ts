import { describe, expect, it } from 'vitest'
import { ballotOwner, nextBallotAbove, ourNextBallot } from './ballot.js'

const MEMBERS = ['a', 'b', 'c']

describe('ballots', () => {
  it.each([
    [0, 0, 1],
    [0, 2, 3],
    [1, 0, 4],
    [3, 2, 6],
    [5, 1, 8],
    [6, 2, 9],
  ])('above %i, member %i takes ballot %i', (above, index, expected) => {
    expect(nextBallotAbove(above, index, 3)).toBe(expected)
  })

  it('gives every ballot exactly one owner, and each member its own ballots', () => {
    for (let ballot = 1; ballot <= 30; ballot++) {
      const owner = ballotOwner(ballot, MEMBERS, 3)
      expect(owner).toBe(MEMBERS[(ballot - 1) % 3])
      const index = MEMBERS.indexOf(owner!)
      expect(ballotOwner(nextBallotAbove(ballot, index, 3), MEMBERS, 3)).toBe(owner)
      expect(nextBallotAbove(ballot, index, 3)).toBeGreaterThan(ballot)
    }
    expect(ballotOwner(0, MEMBERS)).toBeNull()
  })

  it('numbers ballots by roster position, so an id admitted later owns ballots of its own', () => {
    const roster = ['a', 'b', 'c', 'd']
    const ballot = ourNextBallot(0, roster, 'd')
    expect(ballotOwner(ballot, roster)).toBe('d')
    // The earlier members keep their ballots whatever was admitted after them.
    expect(ballotOwner(ourNextBallot(ballot, roster, 'a'), ['a', 'b', 'c'])).toBe('a')
    // A position beyond the roster known here has no owner: its messages are dropped.
    expect(ballotOwner(ballot, ['a', 'b', 'c'])).toBeNull()
  })
})
