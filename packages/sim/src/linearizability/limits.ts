/** Named bounds of the linearizability checker, with their units. */

/**
 * The search budget when the caller names none, in search steps: one step tries one
 * candidate op or backtracks once, in any of the searches of one check (partitions and
 * their per-key projections). A count, not a time, so that a history gets the same verdict
 * on every machine and in every run.
 *
 * Measured: simulator histories (2,000-5,500 ops) and the 5,000-op fixtures need at most
 * ~12,000 steps (about three per op), so this is ~800 times that. Ten million steps took
 * 15-40 s on one slow core for the hardest histories we have, about what the time budget
 * used to allow. It is also what keeps such a history in memory: 24 concurrent appends
 * with lost answers and an impossible read hold ~0.9 GB of search state after 10 million
 * steps, and keep growing, so a much larger default would end in an out-of-memory crash
 * instead of 'unknown'.
 */
export const defaultMaxSearchSteps = 10_000_000

/**
 * The configuration cache stops growing past this many bytes of linearized-op bitsets.
 * The search stays correct without it (the cache only prunes revisits), so when full it
 * goes on uncached and the step budget bounds the rest.
 */
export const maxCacheBitsetBytes = 512 * 1024 * 1024

/** Distinct values (written, read or built by appends) in one partition. */
export const maxDistinctValuesPerPartition = 1 << 26

/** describeHistory shortens longer values to this many characters. */
export const maxDescribedValueChars = 40

/**
 * A read of a key with this many appends pending (appended since its last observation)
 * or fewer memoizes the dead ends of matching them against the value read, on a bitmask.
 */
export const maxMemoizedPendingAppends = 24

/**
 * Steps one read may spend matching its value against the pending appends. Unique
 * tokens match in one step per append; only values that are prefixes of one another
 * branch. Past it the read counts as illegal there, and the search may no longer answer
 * 'illegal' (see PendingAppends.gaveUp).
 */
export const maxPendingMatchSteps = 1_000_000
