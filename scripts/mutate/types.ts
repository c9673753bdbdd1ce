/** The shapes shared by the catalogue, the runner and the report. */

/** One vitest invocation, run at the repository root of a scratch worktree. */
export interface VitestCheck {
  /** Test files, relative to the repository root. */
  readonly files: readonly string[]
  /**
   * vitest's `-t` filter: a regular expression matched against each test's full name (the
   * describe titles and the test title joined by spaces, e.g. "raft protocol, kvraft suite one client").
   */
  readonly name?: string
}

/** `pnpm sim --protocol P --seeds N`: caught when it reports a failing seed or exits non-zero. */
export interface SimCheck {
  readonly protocol: 'raft' | 'paxos'
  readonly seeds: number
}

export interface Mutation {
  /** Kebab-case, unique: what `--only` takes. */
  readonly name: string
  /** The bug this plants, in one line. */
  readonly description: string
  /** Relative to the repository root. */
  readonly file: string
  /** Must occur exactly once in `file` (keep it short and distinctive: the code drifts). */
  readonly search: string
  readonly replace: string
  /** Expected to catch it, cheapest first: `--quick` runs only the first. */
  readonly checks: readonly VitestCheck[]
  /**
   * Run after `checks`, if none of them caught the mutation: the fuzzer's own catch, one
   * per protocol it is measured on (`pnpm mutate --sim-only` runs only these).
   */
  readonly sim?: SimCheck | readonly SimCheck[]
  /** In the `--quick` subset. */
  readonly quick?: boolean
}

export type Check = { readonly kind: 'vitest'; readonly check: VitestCheck } | { readonly kind: 'sim'; readonly check: SimCheck }

/** What one check said about one tree. */
export type CheckVerdict =
  /** A test failed, or the sim found a failing seed or crashed: on a mutant, that is "caught". */
  | { readonly kind: 'failed'; readonly detail: string; readonly seedsRun?: number }
  | { readonly kind: 'passed'; readonly tests?: number }
  /** No verdict within the time limit (a mutant that hangs counts as caught, as in Stryker). */
  | { readonly kind: 'timeout'; readonly detail: string }
  /** The check could not run (a file that does not load, a crash of the tool): proves nothing. */
  | { readonly kind: 'error'; readonly detail: string }

export interface CheckRun {
  readonly label: string
  readonly verdict: CheckVerdict
  readonly ms: number
}

export type MutationStatus = 'caught' | 'survived' | 'error'

export interface MutationResult {
  readonly name: string
  readonly file: string
  readonly status: MutationStatus
  /** The label of the check that caught it. */
  readonly caughtBy: string | null
  /** Wall time of the catching check. */
  readonly catchMs: number | null
  /** For a sim catch: how many seeds ran up to and including the first failing one. */
  readonly seeds: number | null
  /** Why it is an error, or what the catching check reported. */
  readonly detail: string | null
  readonly checks: readonly CheckRun[]
  readonly totalMs: number
}
