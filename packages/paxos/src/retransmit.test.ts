import { describe, expect, it } from 'vitest'
import { RetransmitTimer } from './retransmit.js'

function timerAfter(samples: readonly number[], initial = 4, max = 10): RetransmitTimer {
  const timer = new RetransmitTimer(initial, max)
  for (const ticks of samples) timer.sample(ticks)
  return timer
}

describe('RetransmitTimer', () => {
  it.each([
    { samples: [], timeout: 4, why: 'nothing measured yet: the initial wait' },
    { samples: [0, 0, 0, 0], timeout: 1, why: 'answers within the tick: the next tick' },
    { samples: [2, 2, 2, 2, 2, 2, 2, 2], timeout: 3, why: 'a steady two-tick round trip: one tick later' },
    { samples: [1, 6, 1, 6, 1, 6], timeout: 8, why: 'a jittery round trip: a margin of twice the jitter' },
    { samples: [40, 40, 40], timeout: 10, why: 'never beyond the longest wait' },
  ])('waits $timeout ticks after samples $samples ($why)', ({ samples, timeout }) => {
    expect(timerAfter(samples).timeoutTicks).toBe(timeout)
  })

  it('expires a message once its wait has passed, and waits twice as long for each copy', () => {
    const timer = timerAfter([2, 2, 2, 2, 2, 2, 2, 2], 4, 10)
    expect(timer.expired(100, 102, 1)).toBe(false)
    expect(timer.expired(100, 103, 1)).toBe(true)
    expect(timer.expired(100, 105, 2)).toBe(false)
    expect(timer.expired(100, 106, 2)).toBe(true)
    expect(timer.expired(100, 109, 3)).toBe(false)
    expect(timer.expired(100, 110, 3)).toBe(true)
    expect(timer.expired(100, 110, 50)).toBe(true) // capped at the longest wait
  })
})
