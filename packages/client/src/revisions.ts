import { compareRevisions as compareWire, parseRevision } from '@kv/protocol'
import { BadRequestError } from './errors.js'

/**
 * Compares two revisions as events carry them ("<epoch>.<index>"): negative, zero or positive as
 * `a` is before, the same as or after `b`. Per key, a later change always has a later revision,
 * also across migrations (the epoch part grows when a key moves).
 */
export function compareRevisions(a: string, b: string): number {
  const ra = parseRevision(a)
  const rb = parseRevision(b)
  if (ra === null || rb === null) throw new BadRequestError(`not a revision: ${JSON.stringify(ra === null ? a : b)}`)
  return compareWire(ra, rb)
}
