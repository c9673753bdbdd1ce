import { describe, expect, it } from 'vitest'
import { runScript } from './test-script.js'

// Golden traces: each script's Ready/message trace is kept under testdata/ and reviewed as a
// diff. After an intended change, regenerate with `pnpm vitest run packages/raft -u`.
describe('scenario scripts', () => {
  it('election with pre-vote, then a replicated proposal', async () => {
    const trace = runScript(`
      campaign n1
      deliver
      propose n1 hello
      deliver
      status
    `)
    await expect(trace).toMatchFileSnapshot('./testdata/election-and-proposal.txt')
  })

  it('a partitioned leader is deposed; its uncommitted entry is truncated on rejoin', async () => {
    const trace = runScript(
      `
      campaign n1
      deliver
      partition n1 | n2 n3
      propose n1 lost
      deliver
      campaign n2
      deliver
      propose n2 kept
      deliver
      heal
      tick n2 2
      deliver
      status
    `,
      { options: { checkQuorum: false } },
    )
    await expect(trace).toMatchFileSnapshot('./testdata/partition-and-truncate.txt')
  })

  it('a batched read, then a leadership transfer', async () => {
    const trace = runScript(`
      campaign n1
      deliver
      read n1 1
      read n1 2
      deliver
      crash n3
      transfer n1 n2
      propose n1 refused
      deliver
      restart n3
      tick n2 2
      deliver
      status
    `)
    await expect(trace).toMatchFileSnapshot('./testdata/read-and-transfer.txt')
  })
})
