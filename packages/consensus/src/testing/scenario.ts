import type { CoreFactory } from '../types.js'
import { CoreCluster, type ClusterOptions } from './cluster.js'

export interface ScenarioOptions {
  readonly seed: number
  /** Check Raft's full log matching property (for cores that promise it). */
  readonly strictLogMatching?: boolean
  /** `CoreConfig.options` for every core. */
  readonly coreOptions?: Readonly<Record<string, unknown>>
  /** Names the run in failure messages, e.g. "raft: leader crash". */
  readonly label?: string
  /** How to replay, printed with every failure. */
  readonly replay?: string
}

/** What a passing run did, for logs and the simulator CLI. */
export interface ScenarioReport {
  readonly seed: number
  readonly ticks: number
  readonly leaderTerms: number
  readonly committed: number
  readonly delivered: number
  readonly dropped: number
}

export type Scenario = (factory: CoreFactory, options: ScenarioOptions) => ScenarioReport

export function clusterFor(factory: CoreFactory, o: ScenarioOptions, extra: Omit<ClusterOptions, 'factory' | 'seed'>): CoreCluster {
  return new CoreCluster({
    factory,
    seed: o.seed,
    strictLogMatching: o.strictLogMatching ?? false,
    ...(o.coreOptions === undefined ? {} : { coreOptions: o.coreOptions }),
    ...(o.label === undefined ? {} : { label: o.label }),
    ...(o.replay === undefined ? {} : { replay: o.replay }),
    ...extra,
  })
}

export function report(cluster: CoreCluster): ScenarioReport {
  const s = cluster.stats()
  return { seed: cluster.seed, ticks: s.tick, leaderTerms: s.leaderTerms, committed: s.committed, delivered: s.delivered, dropped: s.dropped }
}
