import { describe, it } from 'vitest'
import type { CoreFactory } from '../types.js'
import { SCENARIOS } from './scenarios.js'

export interface ConformanceOptions {
  /** The core promises Raft's log matching property on its durable log. */
  readonly strictLogMatching?: boolean
  /** Suite seeds; each scenario runs seeds 1..seeds × its `seedWeight`. Default 5. */
  readonly seeds?: number
  /** `CoreConfig.options` for every core. */
  readonly coreOptions?: Readonly<Record<string, unknown>>
}

/** Set to one seed to run only that seed (replaying a failure). */
export const REPLAY_SEED_VARIABLE = 'CONFORMANCE_SEED'

/**
 * The conformance suite for one core: every scenario over several seeds, each seed its own
 * vitest test named `<core> conformance <scenario> <title> (seed N)`. A failure names its seed
 * and prints the command that replays exactly that run.
 */
export function describeConformance(name: string, factory: CoreFactory, options: ConformanceOptions = {}): void {
  const replaySeed = seedFromEnvironment()
  const strictLogMatching = options.strictLogMatching ?? false
  describe(`${name} conformance`, () => {
    for (const scenario of SCENARIOS) {
      const count = (options.seeds ?? 5) * scenario.seedWeight
      const seeds = replaySeed === null ? Array.from({ length: count }, (_, i) => i + 1) : [replaySeed]
      describe(scenario.name, () => {
        for (const seed of seeds) {
          it(`${scenario.title} (seed ${seed})`, () => {
            scenario.run(factory, {
              seed,
              strictLogMatching,
              ...(options.coreOptions === undefined ? {} : { coreOptions: options.coreOptions }),
              label: `${name}: ${scenario.name}`,
              replay: replayCommand(name, scenario.name, seed, strictLogMatching),
            })
          })
        }
      })
    }
  })
}

/** How to rerun one scenario with one seed: from the shell, or in code (the simulator CLI's way). */
export function replayCommand(core: string, scenario: string, seed: number, strictLogMatching = false): string {
  const call = `scenarioByName('${scenario}')!.run(<factory>, { seed: ${seed}${strictLogMatching ? ', strictLogMatching: true' : ''} })`
  return `${REPLAY_SEED_VARIABLE}=${seed} pnpm vitest run packages/sim/src/conformance.test.ts -t "${core} conformance ${scenario} "` +
    `  (or in code: ${call} from @kv/consensus/testing)`
}

function seedFromEnvironment(): number | null {
  const text = globalThis.process?.env[REPLAY_SEED_VARIABLE]
  if (text === undefined || text === '') return null
  const seed = Number(text)
  if (!Number.isSafeInteger(seed)) throw new Error(`${REPLAY_SEED_VARIABLE} must be an integer, got ${text}`)
  return seed
}
