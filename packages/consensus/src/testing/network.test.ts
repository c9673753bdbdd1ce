import { describe, expect, it } from 'vitest'
import { createRng } from '../random.js'
import type { PeerMessage } from '../types.js'
import { SimNetwork } from './network.js'

const msg = (from: string, to: string, n = 0): PeerMessage & { n: number } => ({ type: 'm', from, to, term: 0, n })

describe('SimNetwork', () => {
  it('delivers within the delay bounds, as a copy', () => {
    const net = new SimNetwork(createRng(1), { dropRate: 0, duplicateRate: 0, minDelayTicks: 2, maxDelayTicks: 4 })
    const sent = msg('a', 'b')
    net.send(sent, 0)
    expect(net.takeDue(1)).toEqual([])
    const got = [...net.takeDue(2), ...net.takeDue(3), ...net.takeDue(4)]
    expect(got).toEqual([sent])
    expect(got[0]).not.toBe(sent)
  })

  it('drops and duplicates at about the configured rates', () => {
    const net = new SimNetwork(createRng(2), { dropRate: 0.3, duplicateRate: 0.5, minDelayTicks: 1, maxDelayTicks: 1 })
    for (let i = 0; i < 10_000; i++) net.send(msg('a', 'b', i), 0)
    const got = net.takeDue(1).length
    expect(got).toBeGreaterThan(10_000 * 0.7 * 1.5 * 0.95)
    expect(got).toBeLessThan(10_000 * 0.7 * 1.5 * 1.05)
  })

  it('reorders messages with random delays', () => {
    const net = new SimNetwork(createRng(3), { dropRate: 0, duplicateRate: 0, minDelayTicks: 1, maxDelayTicks: 5 })
    for (let i = 0; i < 50; i++) net.send(msg('a', 'b', i), 0)
    const order = [1, 2, 3, 4, 5].flatMap((t) => net.takeDue(t)).map((m) => (m as ReturnType<typeof msg>).n)
    expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(order).not.toEqual([...order].sort((x, y) => x - y))
  })

  it('partitions by groups (unnamed nodes are alone) and loses what crosses a cut in flight', () => {
    const net = new SimNetwork(createRng(4))
    net.send(msg('a', 'c'), 0)
    net.partition([['a', 'b'], ['c']])
    expect(net.connected('a', 'b')).toBe(true)
    expect(net.connected('a', 'c')).toBe(false)
    expect(net.connected('d', 'a')).toBe(false)
    expect(net.takeDue(1)).toEqual([])
    net.send(msg('a', 'b'), 1)
    net.send(msg('a', 'c'), 1)
    expect(net.takeDue(2).map((m) => m.to)).toEqual(['b'])
    net.heal()
    net.send(msg('a', 'c'), 2)
    expect(net.takeDue(3).map((m) => m.to)).toEqual(['c'])
  })

  it('rejects impossible settings', () => {
    expect(() => new SimNetwork(createRng(1), { dropRate: 2, duplicateRate: 0, minDelayTicks: 1, maxDelayTicks: 1 })).toThrow()
    expect(() => new SimNetwork(createRng(1), { dropRate: 0, duplicateRate: 0, minDelayTicks: 0, maxDelayTicks: 1 })).toThrow()
  })
})
