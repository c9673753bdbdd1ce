import { createRng } from '@kv/consensus'
import { describe, expect, it } from 'vitest'
import { generateConcurrentHistory, type ConcurrentHistoryShape } from './fixtures.js'
import { checkLinearizability } from './index.js'

/**
 * Not a timed assertion: a check that a history of simulator size gets a verdict within
 * the default step budget. The elapsed time is printed for the record.
 */
const simulatorSized = { operations: 5000, clients: 10, keys: 20 }

function checkGenerated(seed: number, shape: ConcurrentHistoryShape): string {
  const history = generateConcurrentHistory(createRng(seed), shape)
  const started = performance.now()
  const result = checkLinearizability(history)
  const elapsedMs = performance.now() - started
  console.info(`seed ${seed} ${JSON.stringify(shape)}: ${result.result} in ${result.searchSteps} steps, ${elapsedMs.toFixed(0)} ms`)
  return result.result
}

describe('checkLinearizability at simulator size', () => {
  it('verifies 5,000 ops of 10 clients on 20 independent keys, some answers lost', () => {
    const shape = { ...simulatorSized, batchPutPercent: 0, unknownPercent: 2 }
    expect(checkGenerated(1, shape)).toBe('ok')
  })

  it('verifies 5,000 ops of 10 clients on 20 keys that batchPuts join into one partition', () => {
    const shape = { ...simulatorSized, batchPutPercent: 5, unknownPercent: 0 }
    expect(checkGenerated(1, shape)).toBe('ok')
  })
})
