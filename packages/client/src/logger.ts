/**
 * Where the client says what it does: pino's call shape, `(fields, message)`. A pino logger
 * (or a child of one) fits as is; so does `@kv/transport-tcp`'s Logger, which it is handed to.
 */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

const noop = (): void => {}

/** The default: says nothing. */
export const noopLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }
