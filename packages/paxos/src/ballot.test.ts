import { describe, expect, it } from 'vitest'
import { ballotOwner, nextBallotAbove } from './ballot.js'

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
      const owner = ballotOwner(ballot, MEMBERS)
      expect(owner).toBe(MEMBERS[(ballot - 1) % 3])
      const index = MEMBERS.indexOf(owner!)
      expect(ballotOwner(nextBallotAbove(ballot, index, 3), MEMBERS)).toBe(owner)
      expect(nextBallotAbove(ballot, index, 3)).toBeGreaterThan(ballot)
    }
    expect(ballotOwner(0, MEMBERS)).toBeNull()
  })
})
