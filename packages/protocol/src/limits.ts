/** Bounds on what a client may send. Checked at the gateway (`parseClientRequest`). */
export const limits = {
  /** Longest key, in UTF-8 bytes. */
  maxKeyBytes: 1024,
  /** Largest value, in bytes. */
  maxValueBytes: 1024 * 1024,
  /** Most entries in one batchPut. */
  maxBatchEntries: 1000,
  /** Largest total size of one batchPut's keys and values, in bytes. */
  maxBatchBytes: 4 * 1024 * 1024,
  /** Longest client id, in characters. */
  maxClientIdChars: 128,
  /** Longest bound of a scan range, in UTF-8 bytes (a key and the suffix a continuation adds). */
  maxRangeBoundBytes: 1024 + 4,
  /** Most keys one group sends for one scan request. */
  maxScanLimit: 10_000,
  /** Most events a watch poll may ask for (an answer always carries whole log entries). */
  maxWatchEvents: 10_000,
  /** Longest a watch poll may be held by the leader, in ms. */
  maxWatchWaitMs: 60_000,
} as const
