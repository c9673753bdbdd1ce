/**
 * The `kv` command's exit codes, one table for every command (documented in the README).
 * A script can tell "no such key" from "bad call" from "cluster down" from "may have applied".
 */
export const exitCodes = {
  ok: 0,
  /** `get` of a key that does not exist; also any failure without a code of its own. */
  notFound: 1,
  failure: 1,
  /** Bad flags or arguments, a bad config file, a request the cluster refused as malformed. */
  usage: 2,
  /** No replica (or no leader) answered; nothing was applied. */
  unavailable: 3,
  /** The deadline passed: a write may or may not have been applied. */
  timeout: 4,
  /** A batch spanning groups was applied by some groups and not by others. */
  partial: 5,
  /** A watch asked for revisions older than the group keeps (COMPACTED): start again from a fresh read. */
  compacted: 6,
} as const

/** An error the command line reports in one line, with its exit code. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
  }
}

/** The exit code for a client error code (`KvError.code`). */
export function exitCodeOf(code: string): number {
  switch (code) {
    // TLS_*: a certificate or key file that cannot be read, does not parse or does not match.
    case 'BAD_REQUEST':
    case 'BAD_CONFIG':
    case 'USAGE':
    case 'TLS_CONFIG':
    case 'TLS_NAME_MISMATCH':
    case 'TLS_BAD_CERT':
    case 'TLS_UNKNOWN_CA':
      return exitCodes.usage
    case 'UNAVAILABLE':
    case 'NOT_LEADER':
    case 'WRONG_SHARD':
    case 'CLOSED':
      return exitCodes.unavailable
    case 'TIMEOUT':
      return exitCodes.timeout
    case 'PARTIAL_BATCH':
      return exitCodes.partial
    case 'COMPACTED':
      return exitCodes.compacted
    default:
      return exitCodes.failure
  }
}

/** A bad flag, argument or combination of them: exit 2, one line. */
export class UsageError extends Error {
  readonly code = 'USAGE'
}
