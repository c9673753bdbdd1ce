import type { Entry } from '@kv/consensus'
import { encodeRecord } from '@kv/server'
import { describe, expect, it } from 'vitest'
import { logLines } from './log-command.js'

const write = (index: number, term: number, clientId: string, seq: number): Entry => ({
  type: 'normal', index, term,
  data: encodeRecord({ kind: 'kv', v: 1, timeMs: 0, commands: [{ clientId, seq, ackedSeq: 0, op: { op: 'put', key: 'k', value: new Uint8Array([1]) } }] }),
})

describe('kv log lines', () => {
  const entries: Entry[] = [{ type: 'noop', index: 1, term: 1 }, write(2, 1, 'c1', 1), write(4, 2, 'c1', 2), { type: 'noop', index: 7, term: 3 }]

  it('shows each entry with its term, kind, client id and seq, and every missing slot between entries as a hole', () => {
    const lines = logLines(entries, 1, 100)
    expect(lines.map((l) => [l.index, l.term, l.kind])).toEqual([
      [1, 1, 'noop'], [2, 1, 'kv'], [3, null, 'hole'], [4, 2, 'kv'], [5, null, 'hole'], [6, null, 'hole'], [7, 3, 'noop'],
    ])
    expect(lines[1]!.detail).toBe('c1:1 put')
    expect(lines[1]!.digest).toMatch(/^[0-9a-f]{12}$/)
    expect(lines[3]!.digest).not.toBe(lines[1]!.digest)
  })

  it('starts at --from and stops after --limit slots, holes counted', () => {
    expect(logLines(entries, 3, 3).map((l) => l.index)).toEqual([3, 4, 5])
    expect(logLines(entries, 5, 100).map((l) => l.index)).toEqual([5, 6, 7])
  })

  it('reports an entry whose data does not decode instead of failing', () => {
    const [line] = logLines([{ type: 'normal', index: 1, term: 1, data: new Uint8Array([0xc1]) }], 1, 10)
    expect(line!.kind).toBe('undecodable')
  })
})
