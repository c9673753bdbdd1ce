import { initialMembership, type Entry } from '@kv/consensus'
import { describe, expect, it } from 'vitest'
import { decodePayload, encodeRecord, RECORD_HEADER_BYTES } from './record.js'

describe('WAL entry records', () => {
  it('keep normal, noop and membership entries apart across a round trip', () => {
    const entries: Entry[] = [
      { type: 'normal', index: 1, term: 1, data: new Uint8Array([1, 2]) },
      { type: 'noop', index: 2, term: 1 },
      {
        type: 'membership', index: 3, term: 2, change: { type: 'add-learner', id: 'n4', context: new TextEncoder().encode('127.0.0.1:7004') },
        membership: { ...initialMembership(['n1', 'n2', 'n3']), learners: ['n4'], roster: ['n1', 'n2', 'n3', 'n4'] },
      },
    ]
    const bytes = encodeRecord({ type: 'entries', entries })
    const decoded = decodePayload(bytes.readUInt8(0), bytes.subarray(RECORD_HEADER_BYTES))
    expect(decoded).toEqual({ type: 'entries', entries })
  })
})
