/**
 * The logger the transport writes to: pino's call shape, `(fields, message)`. A pino logger
 * (or a child of one) fits as is.
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
