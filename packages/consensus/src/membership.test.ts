import { describe, expect, it } from 'vitest'
import {
  applyChange, hasQuorum, initialMembership, isMembership, isMembershipRefusal, MAX_ROSTER, type Membership, type MembershipChange,
} from './membership.js'

const none = new Uint8Array(0)
const change = (type: MembershipChange['type'], id: string): MembershipChange => ({ type, id, context: none })
const three = initialMembership(['a', 'b', 'c'])

function reason(m: Membership, c: MembershipChange): string | null {
  const next = applyChange(m, c)
  return isMembershipRefusal(next) ? next.reason : null
}

describe('membership changes, one server at a time', () => {
  it('admits a learner, promotes it, removes a voter; the roster only grows', () => {
    const added = applyChange(three, change('add-learner', 'd')) as Membership
    expect(added).toEqual({ voters: ['a', 'b', 'c'], learners: ['d'], roster: ['a', 'b', 'c', 'd'] })
    const promoted = applyChange(added, change('promote', 'd')) as Membership
    expect(promoted).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: [], roster: ['a', 'b', 'c', 'd'] })
    const removed = applyChange(promoted, change('remove', 'a')) as Membership
    expect(removed).toEqual({ voters: ['b', 'c', 'd'], learners: [], roster: ['a', 'b', 'c', 'd'] })
  })

  it.each<[string, Membership, MembershipChange, string]>([
    ['an id admitted before', three, change('add-learner', 'a'), 'already-admitted'],
    ['an id removed before', { ...three, voters: ['b', 'c'] }, change('add-learner', 'a'), 'already-admitted'],
    ['promoting a voter', three, change('promote', 'a'), 'unknown-id'],
    ['removing a stranger', three, change('remove', 'z'), 'unknown-id'],
    ['removing the last voter', initialMembership(['a']), change('remove', 'a'), 'last-voter'],
    ['a full roster', { voters: ['a'], learners: [], roster: Array.from({ length: MAX_ROSTER }, (_, i) => (i === 0 ? 'a' : `x${i}`)) }, change('add-learner', 'new'), 'roster-full'],
  ])('refuses %s', (_name, m, c, expected) => {
    expect(reason(m, c)).toBe(expected)
  })

  it('counts voters only toward a quorum, each once', () => {
    const m: Membership = { voters: ['a', 'b', 'c'], learners: ['d', 'e'], roster: ['a', 'b', 'c', 'd', 'e'] }
    expect(hasQuorum(m, ['a', 'd', 'e'])).toBe(false)
    expect(hasQuorum(m, ['a', 'a', 'd'])).toBe(false)
    expect(hasQuorum(m, ['a', 'b'])).toBe(true)
  })

  it('checks the shape of a membership from the wire', () => {
    expect(isMembership(three)).toBe(true)
    expect(isMembership({ voters: [], learners: [], roster: [] })).toBe(false)
    expect(isMembership({ voters: ['a'], learners: ['a'], roster: ['a'] })).toBe(false)
    expect(isMembership({ voters: ['a', 'z'], learners: [], roster: ['a'] })).toBe(false)
  })
})
