import type { KvOperation } from '@kv/sim'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { checkHistory } from './check.js'

const put = (clientId: number, value: string, call: number, ret: number): KvOperation => ({ clientId, input: { op: 'put', key: 'k', value }, call, return: ret, output: { type: 'ok' } })
const get = (clientId: number, value: string | null, call: number, ret: number): KvOperation => ({ clientId, input: { op: 'get', key: 'k' }, call, return: ret, output: { type: 'value', value } })
const lostPut: KvOperation = { clientId: 3, input: { op: 'put', key: 'k', value: 'maybe' }, call: 1, return: Infinity, output: { type: 'unknown' } }

describe('checkHistory', () => {
  let dir = ''
  afterEach(() => rmSync(dir, { recursive: true, force: true }))
  const fresh = () => (dir = mkdtempSync(path.join(os.tmpdir(), 'kv-soak-check-')))

  it('says LINEARIZABLE and keeps nothing for a linearizable history', () => {
    const r = checkHistory([put(1, 'a', 0, 10), lostPut, get(2, 'a', 20, 30)], fresh())
    expect(r).toMatchObject({ verdict: 'LINEARIZABLE', verdictDetail: null })
    expect(existsSync(path.join(dir, 'history.json'))).toBe(false)
  })

  it('says NOT LINEARIZABLE with the key, and keeps the history and the failing partition described', () => {
    // An acknowledged put, then a read that does not see it: a lost write.
    const ops = [put(1, 'a', 0, 10), lostPut, get(2, null, 20, 30)]
    const r = checkHistory(ops, fresh())
    expect(r.verdict).toBe('NOT LINEARIZABLE')
    expect(r.verdictDetail).toMatch(/^key k: /)
    const saved = JSON.parse(readFileSync(path.join(dir, 'history.json'), 'utf8')) as Array<{ return: unknown }>
    expect(saved).toHaveLength(3)
    expect(saved[1]!.return).toBe('Infinity')
    expect(readFileSync(path.join(dir, 'not-linearizable.txt'), 'utf8')).toContain('c2 get k → null')
  })

  it('says UNKNOWN with the reason when the budget runs out, and keeps the history', () => {
    const r = checkHistory([put(1, 'a', 0, 10), get(2, 'a', 20, 30)], fresh(), { maxSearchSteps: 0 })
    expect(r.verdict).toBe('UNKNOWN')
    expect(r.verdictDetail).toContain('budget')
    expect(existsSync(path.join(dir, 'history.json'))).toBe(true)
  })
})
