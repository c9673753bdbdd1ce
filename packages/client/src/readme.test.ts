import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { defaultClientLimits } from './limits.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const number = (s: string) => Number(s.replace(/[\s,]/g, ''))

describe('the README states the limits the code has', () => {
  it('attempts per call', () => {
    const stated = [...readme.matchAll(/attempts per call \(([\d\s,]+)|attempt bound, ([\d\s,]+)\)|after ([\d\s,]+) attempts/g)].map((m) => number(m[1] ?? m[2] ?? m[3]!))
    expect(stated.length).toBeGreaterThanOrEqual(3)
    for (const n of stated) expect(n).toBe(defaultClientLimits.maxAttemptsPerCall)
  })

  it('per-attempt and connect timeouts, backoff, write window', () => {
    const l = defaultClientLimits
    expect(readme).toContain(`per-attempt timeout (${l.maxAttemptTimeoutMs / 1000} s)`)
    expect(readme).toContain(`connect timeout (${l.connectTimeoutMs / 1000} s)`)
    expect(readme).toContain(`backoff (${l.backoffMinMs}–${l.backoffMaxMs} ms)`)
    expect(readme).toContain(`write window (${l.maxWriteWindow})`)
  })
})
