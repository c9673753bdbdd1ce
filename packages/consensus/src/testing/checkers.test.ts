import { describe, expect, it } from 'vitest'
import type { CoreFactory } from '../types.js'
import { CoreCluster } from './cluster.js'
import { ConformanceError, type Property } from './failure.js'
import { normal, scripted } from './fakes/scripted-core.js'
import { expectLiveness } from './scenario-steps.js'

function run(factory: CoreFactory, options: { strictLogMatching?: boolean; ticks?: number } = {}): ConformanceError | null {
  try {
    const cluster = new CoreCluster({ factory, seed: 7, strictLogMatching: options.strictLogMatching ?? false, label: 'checker test', replay: 'replay-me' })
    cluster.tick(options.ticks ?? 10)
    return null
  } catch (e) {
    if (e instanceof ConformanceError) return e
    throw e
  }
}

function expectCaught(error: ConformanceError | null, property: Property, nodes: readonly string[]): ConformanceError {
  expect(error, `expected a ${property} failure`).toBeInstanceOf(ConformanceError)
  expect(error!.property).toBe(property)
  for (const n of nodes) expect(error!.nodes).toContain(n)
  expect(error!.message).toContain('seed: 7')
  expect(error!.message).toContain('replay: replay-me')
  return error!
}

describe('election safety', () => {
  it('catches two leaders in one term', () => {
    const twoLeaders = scripted((core, tick) => {
      if (tick === 1 && core.id !== 'n3') [core.role, core.term] = ['leader', 1]
    })
    const error = expectCaught(run(twoLeaders), 'election safety', ['n1', 'n2'])
    expect(error.message).toContain('two leaders in term 1')
  })

  it('accepts one leader per term, even when terms change hands', () => {
    const rotating = scripted((core, tick) => {
      const mine = Number(core.id.slice(1))
      ;[core.role, core.term] = tick % 3 === mine - 1 ? ['leader', tick] : ['follower', tick]
    })
    expect(run(rotating)).toBeNull()
  })
})

describe('state machine safety', () => {
  it('catches two nodes applying different entries at one index', () => {
    const divergent = scripted((core, tick) => {
      if (core.id === 'n3') return
      const e = normal(1, 1, `from ${core.id}`)
      // Written first, applied once durable (the contract hands out only durable entries to apply).
      if (tick === 1) core.emit({ entries: [e] })
      if (tick === 2) core.emit({ committed: [e] })
    })
    const error = expectCaught(run(divergent), 'state machine safety', ['n1', 'n2'])
    expect(error.message).toMatch(/"from n[12]"\(index 1, term 1\)/)
  })

  it('catches a gap in the applied sequence', () => {
    const gap = scripted((core, tick) => {
      if (core.id !== 'n2') return
      if (tick === 1) core.emit({ entries: [normal(1, 1, 'a'), normal(2, 1, 'b')] })
      if (tick === 2) core.emit({ committed: [normal(2, 1, 'b')] })
    })
    expect(expectCaught(run(gap), 'state machine safety', ['n2']).message).toContain('gap-free')
  })

  it('catches snapshot data the application never made', () => {
    const garbage = scripted((core, tick) => {
      if (tick === 1 && core.id === 'n1') core.emit({ snapshot: { index: 3, term: 1, data: new Uint8Array([1, 2, 3]) } })
    })
    expectCaught(run(garbage), 'state machine safety', ['n1'])
  })
})

describe('durability', () => {
  it('catches applying an entry that was never made durable', () => {
    const eager = scripted((core, tick) => {
      if (tick === 1 && core.id === 'n1') core.emit({ committed: [normal(1, 1, 'a')] })
    })
    expectCaught(run(eager), 'durability', ['n1'])
  })

  it('catches applying an entry whose write is still in flight (committed must be durable when handed out)', () => {
    const early = scripted((core, tick) => {
      if (tick === 1 && core.id === 'n1') core.emit({ entries: [normal(1, 1, 'a')], committed: [normal(1, 1, 'a')] })
    })
    expectCaught(run(early), 'durability', ['n1'])
  })
})

describe('log matching (committed prefix)', () => {
  it('catches durably committed entries that differ between nodes', () => {
    const divergentDisk = scripted((core, tick) => {
      if (tick === 1) core.emit({ entries: [normal(1, 1, core.id)], hardState: { term: 1, vote: null, commit: 1 } })
    })
    expectCaught(run(divergentDisk), 'log matching', [])
  })

  it('ignores uncommitted entries that differ (they may still be replaced)', () => {
    const uncommitted = scripted((core, tick) => {
      if (tick === 1) core.emit({ entries: [normal(1, 1, core.id)], hardState: { term: 1, vote: null, commit: 0 } })
    })
    expect(run(uncommitted)).toBeNull()
  })
})

describe('strict log matching', () => {
  const sameIndexAndTerm = scripted((core, tick) => {
    if (tick === 1) core.emit({ entries: [normal(1, 1, core.id)] })
  })

  it('catches different entries with the same index and term', () => {
    expectCaught(run(sameIndexAndTerm, { strictLogMatching: true }), 'strict log matching', [])
  })

  it('is opt-in: a core without the promise is not held to it', () => {
    expect(run(sameIndexAndTerm)).toBeNull()
  })

  it('catches equal entries that sit on different prefixes', () => {
    const prefixes = scripted((core, tick) => {
      if (tick !== 1 || core.id === 'n3') return
      const first = core.id === 'n1' ? normal(1, 1, 'a') : normal(1, 2, 'b')
      core.emit({ entries: [first, normal(2, 2, 'same')] })
    })
    const error = expectCaught(run(prefixes, { strictLogMatching: true }), 'strict log matching', ['n1', 'n2'])
    expect(error.message).toContain('prefixes differ')
  })

  it('catches a hole in a durable log', () => {
    const hole = scripted((core, tick) => {
      if (tick === 1 && core.id === 'n1') core.emit({ entries: [normal(1, 1, 'a'), normal(3, 1, 'c')] })
    })
    expect(expectCaught(run(hole, { strictLogMatching: true }), 'strict log matching', ['n1']).message).toContain('hole')
  })
})

describe('leader completeness', () => {
  it('catches a new leader missing an entry committed in an earlier term', () => {
    const forgetful = scripted((core, tick) => {
      const e = normal(1, 1, 'committed')
      if (core.id === 'n1' && tick === 1) {
        ;[core.role, core.term] = ['leader', 1]
        core.emit({ entries: [e], hardState: { term: 1, vote: 'n1', commit: 1 } })
      }
      if (core.id === 'n1' && tick === 2) core.emit({ committed: [e] })
      if (core.id === 'n1' && tick === 3) core.role = 'follower'
      if (core.id === 'n2' && tick === 4) [core.role, core.term] = ['leader', 2]
    })
    const error = expectCaught(run(forgetful), 'leader completeness', ['n1', 'n2'])
    expect(error.message).toContain('n2 leads term 2')
  })

  it('accepts a new leader that holds the committed entries', () => {
    const faithful = scripted((core, tick) => {
      const e = normal(1, 1, 'committed')
      if (tick === 1 && core.id !== 'n3') core.emit({ entries: [e], hardState: { term: 1, vote: 'n1', commit: 1 } })
      if (tick === 2 && core.id !== 'n3') core.emit({ committed: [e] })
      if (core.id === 'n1' && tick === 1) [core.role, core.term] = ['leader', 1]
      if (core.id === 'n1' && tick === 3) core.role = 'follower'
      if (core.id === 'n2' && tick === 4) [core.role, core.term] = ['leader', 2]
    })
    expect(run(faithful)).toBeNull()
  })
})

describe('core invariants and shell contract', () => {
  it('reports a core whose checkInvariants throws, with the seed', () => {
    const broken = scripted((core, tick) => {
      if (tick === 2 && core.id === 'n2') core.invariantBroken = 'commit > last'
    })
    const error = expectCaught(run(broken), 'invariant', ['n2'])
    expect(error.message).toContain('commit > last')
    expect(error.tick).toBe(2)
  })

  it('reports a message addressed outside the group', () => {
    const stray = scripted((core, tick) => {
      if (tick === 1 && core.id === 'n1') core.emit({ messagesNow: [{ type: 'hello', from: 'n1', to: 'n9', term: 0 }] })
    })
    expectCaught(run(stray), 'invariant', ['n1'])
  })
})

describe('liveness', () => {
  it('fails a group that never elects a leader, naming seed and tick', () => {
    const idle = scripted(() => {})
    const cluster = new CoreCluster({ factory: idle, seed: 11, replay: 'again' })
    let caught: unknown = null
    try {
      expectLiveness(cluster, 'x', 50)
    } catch (e) {
      caught = e
    }
    expect(caught).toBeInstanceOf(ConformanceError)
    const error = caught as ConformanceError
    expect(error.property).toBe('liveness')
    expect(error.seed).toBe(11)
    expect(error.tick).toBe(50)
    expect(error.message).toContain('replay: again')
  })
})

describe('durability of hard state', () => {
  it('catches a durable term going back', () => {
    const amnesiac = scripted((core, tick) => {
      if (core.id !== 'n1') return
      if (tick === 1) core.emit({ hardState: { term: 3, vote: null, commit: 0 } })
      if (tick === 2) core.emit({ hardState: { term: 2, vote: null, commit: 0 } })
    })
    expect(expectCaught(run(amnesiac), 'durability', ['n1']).message).toContain('went back from 3 to 2')
  })

  it('catches a durable vote changing within its term', () => {
    const fickle = scripted((core, tick) => {
      if (core.id !== 'n1') return
      if (tick === 1) core.emit({ hardState: { term: 3, vote: 'n2', commit: 0 } })
      if (tick === 2) core.emit({ hardState: { term: 3, vote: 'n3', commit: 0 } })
    })
    expectCaught(run(fickle), 'durability', ['n1'])
  })

  it('catches a promise sent after persisting for a term that is not durable', () => {
    const early = scripted((core, tick) => {
      if (core.id === 'n1' && tick === 1) {
        core.emit({ hardState: { term: 1, vote: null, commit: 0 }, messagesAfterPersist: [{ type: 'vote', from: 'n1', to: 'n2', term: 2 }] })
      }
    })
    expect(expectCaught(run(early), 'durability', ['n1', 'n2']).message).toContain('durable term is 1')
  })
})
