/** A broken invariant: the process must stop rather than go on with corrupt state. */
export class InvariantError extends Error {
  readonly code = 'INVARIANT'
  constructor(message: string) {
    super(message)
    this.name = 'InvariantError'
  }
}

/** Assertions stay on in production (TIGER_STYLE): a wrong state is worse than a crash. */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'function' ? message() : message)
}

/** For the `default` branch of an exhaustive switch. */
export function unreachable(value: never, what = 'value'): never {
  throw new InvariantError(`unexpected ${what}: ${JSON.stringify(value)}`)
}
