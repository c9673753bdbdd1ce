import { describe, expect, it } from 'vitest'
import { CallRound } from './call-round.js'
import { ReplicaGroup } from './replica-group.js'

const group = () => new ReplicaGroup('g1', ['a', 'b', 'c'].map((id) => ({ address: `addr-${id}`, id })), (a: string) => a)

function walk(round: CallRound<string>, answers: Record<string, Parameters<CallRound<string>['report']>[1]>): string[] {
  const seen: string[] = []
  for (let a = round.next(); a !== null; a = round.next()) {
    seen.push(a)
    const verdict = answers[a] ?? { kind: 'failed' }
    round.report(a, verdict)
    if (verdict.kind === 'done') break
  }
  return seen
}

describe('routing decisions', () => {
  it('tries every replica once per round, starting at the cursor, and moves the cursor past failures', () => {
    const g = group()
    expect(walk(new CallRound(g), {})).toEqual(['addr-a', 'addr-b', 'addr-c'])
    // Each failure moved the cursor one on: around the group and back to the start.
    expect(g.roundOrder()[0]).toBe('addr-a')
    const round = new CallRound(g)
    round.report(round.next()!, { kind: 'failed' })
    expect(g.roundOrder()).toEqual(['addr-b', 'addr-c', 'addr-a'])
  })

  it('follows a NOT_LEADER hint at once and believes the replica that answers', () => {
    const g = group()
    const seen = walk(new CallRound(g), { 'addr-a': { kind: 'not-leader', hint: 'c' }, 'addr-c': { kind: 'done' } })
    expect(seen).toEqual(['addr-a', 'addr-c'])
    expect(g.leader).toBe('addr-c')
    expect(g.roundOrder()[0]).toBe('addr-c')
  })

  it('retries a hinted replica once more in a round (its answer may have been lost), never more', () => {
    const g = group()
    const seen = walk(new CallRound(g), {
      'addr-b': { kind: 'not-leader', hint: 'a' },
      'addr-c': { kind: 'not-leader', hint: 'a' },
    })
    expect(seen).toEqual(['addr-a', 'addr-b', 'addr-a', 'addr-c'])
  })

  it('ignores a hint naming an unknown replica and goes on in order', () => {
    expect(walk(new CallRound(group()), { 'addr-a': { kind: 'not-leader', hint: 'zz' }, 'addr-b': { kind: 'done' } })).toEqual(['addr-a', 'addr-b'])
  })

  it('takes in a replica it never heard of when a NOT_LEADER hint says where it is (a member added later)', () => {
    const g = group()
    const seen = walk(new CallRound(g), { 'addr-a': { kind: 'not-leader', hint: 'd', hintAddress: 'addr-d' }, 'addr-d': { kind: 'done' } })
    expect(seen).toEqual(['addr-a', 'addr-d'])
    expect(g.addresses).toEqual(['addr-a', 'addr-b', 'addr-c', 'addr-d'])
    expect(g.addressOf('d')).toBe('addr-d')
    expect(g.roundOrder()).toEqual(['addr-d', 'addr-a', 'addr-b', 'addr-c'])
  })

  it('asks only the one replica it is told to, and a stale answer does not make it leader', () => {
    const g = group()
    const round = new CallRound(g, { only: 'addr-b', tracksLeader: false })
    expect(walk(round, { 'addr-b': { kind: 'done' } })).toEqual(['addr-b'])
    expect(g.leader).toBeNull()
  })

  it('learns replica ids from welcomes, so later hints resolve', () => {
    const g = new ReplicaGroup('g', [{ address: 'x' }, { address: 'y' }], (a: string) => a)
    expect(g.addressOf('r2')).toBeNull()
    g.learn('y', 'r2')
    expect(g.addressOf('r2')).toBe('y')
  })
})
