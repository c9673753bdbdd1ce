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
} as const
