/**
 * The @kv/consensus conformance suite, for every core, from this one file. (It lives in
 * @kv/sim because this package depends on both cores; @kv/consensus cannot import them.)
 * Replay one failing seed: CONFORMANCE_SEED=<seed> pnpm vitest run packages/sim -t "<core> conformance <scenario> "
 */
import { describeConformance } from '@kv/consensus/testing'
import { expect, it } from 'vitest'
import { protocols, type Protocol } from './protocols.js'

for (const protocol of Object.keys(protocols) as Protocol[]) {
  // Raft promises the full Log Matching Property on durable logs; Paxos only on what is chosen.
  describeConformance(protocol, protocols[protocol], { strictLogMatching: protocol === 'raft' })
}

it('runs the conformance suite for every protocol the simulator knows', () => {
  // A protocol added to `protocols` is covered by the loop above without further wiring.
  expect(Object.keys(protocols).sort()).toEqual(['paxos', 'raft'])
})
