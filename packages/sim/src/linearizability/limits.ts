/** Named bounds of the linearizability checker, with their units. */

/** The budget when the caller names none: long enough for any simulator history we run. */
export const defaultTimeBudgetMs = 60_000

/**
 * How many search steps pass between two reads of the clock. A step costs tens of
 * nanoseconds and a clock read about as much, so this keeps the clock off the profile
 * while overshooting the budget by well under a millisecond.
 */
export const clockCheckIntervalSteps = 4096

/**
 * The configuration cache stops growing past this many bytes of linearized-op bitsets.
 * The search stays correct without it (the cache only prunes revisits), so when full it
 * goes on uncached and the time budget bounds the rest.
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
