import { describe, expect, it } from 'vitest'
import { FaultConfigError } from './errors.js'
import { FaultInjector, parseDropRate } from './fault.js'

describe('parseDropRate', () => {
  it.each([
    ['low', 0.01],
    ['medium', 0.1],
    ['high', 0.3],
    ['HIGH', 0.3],
    ['0', 0],
    ['1', 1],
    ['0.25', 0.25],
    [' 0.5 ', 0.5],
  ])('%j → %d', (text, rate) => {
    expect(parseDropRate(text)).toBe(rate)
  })

  it.each(['', 'lots', '1.5', '-0.1', 'NaN', 'Infinity', '0x1'])('refuses %j with a clear error', (text) => {
    expect(() => parseDropRate(text)).toThrowError(FaultConfigError)
    expect(() => parseDropRate(text)).toThrowError(/low, medium, high or a number in \[0, 1\]/)
  })
})

describe('FaultInjector', () => {
  it('drops nothing by default and never draws a random number', () => {
    let draws = 0
    const faults = new FaultInjector(undefined, { random: () => (draws++, 0) })
    expect(faults.shouldDrop({ type: 'vote' })).toBe(false)
    expect(draws).toBe(0)
  })

  it('with dropKinds, drops only messages of those kinds', () => {
    const faults = new FaultInjector({ dropRate: 1, dropKinds: ['vote'], delayMs: 0 })
    expect(faults.shouldDrop({ type: 'vote' })).toBe(true)
    expect(faults.shouldDrop({ type: 'append' })).toBe(false)
  })

  it('classifies with the application function', () => {
    const classify = (msg: { type: string }) => (msg.type.startsWith('client') ? 'client-reply' : 'peer')
    const faults = new FaultInjector({ dropRate: 1, dropKinds: ['client-reply'], delayMs: 0 }, { classify })
    expect(faults.shouldDrop({ type: 'client-put-ok' })).toBe(true)
    expect(faults.shouldDrop({ type: 'append' })).toBe(false)
  })

  it('drops when the injected random draw is below dropRate', () => {
    const draws = [0.05, 0.2, 0.09, 0.5]
    const faults = new FaultInjector({ dropRate: 0.1, dropKinds: null, delayMs: 0 }, { random: () => draws.shift() ?? 1 })
    expect([1, 2, 3, 4].map(() => faults.shouldDrop({ type: 'x' }))).toEqual([true, false, true, false])
  })

  it('refuses an out-of-range config', () => {
    expect(() => new FaultInjector({ dropRate: 2, dropKinds: null, delayMs: 0 })).toThrowError(FaultConfigError)
    expect(() => new FaultInjector({ dropRate: 0, dropKinds: null, delayMs: -1 })).toThrowError(FaultConfigError)
  })
})
