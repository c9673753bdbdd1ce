/**
 * Applying one catalogue entry to a source text: an exact search/replace that must match
 * exactly once. A search text that is missing or ambiguous is refused loudly, so that a
 * refactor that moves or duplicates the mutated code is noticed instead of silently running
 * an unmutated tree (which would "survive" and prove nothing).
 */

export interface Patch {
  /** The catalogue entry's name, for error messages. */
  readonly name: string
  /** The file the patch applies to, relative to the repository root. */
  readonly file: string
  readonly search: string
  readonly replace: string
}

export type PatchErrorCode = 'SEARCH_EMPTY' | 'SEARCH_NOT_FOUND' | 'SEARCH_AMBIGUOUS' | 'NO_CHANGE' | 'FILE_MISSING'

export class PatchError extends Error {
  override readonly name = 'PatchError'

  constructor(
    readonly code: PatchErrorCode,
    readonly entry: string,
    readonly file: string,
    message: string,
  ) {
    super(`mutation "${entry}" (${file}): ${message}`)
  }
}

/** 1-based line numbers of every (non-overlapping) occurrence of `search` in `source`. */
export function occurrences(source: string, search: string): number[] {
  const lines: number[] = []
  if (search.length === 0) return lines
  for (let at = source.indexOf(search); at !== -1; at = source.indexOf(search, at + search.length)) {
    lines.push(lineOf(source, at))
  }
  return lines
}

function lineOf(source: string, offset: number): number {
  let line = 1
  for (let i = 0; i < offset; i++) if (source.charCodeAt(i) === 10) line++
  return line
}

/** The first line of a search text, shortened, to name it in a message. */
export function preview(text: string, max = 80): string {
  const first = text.split('\n')[0]!.trim()
  const shown = first.length > max ? `${first.slice(0, max - 1)}…` : first
  return text.includes('\n') ? `${shown} (+${text.split('\n').length - 1} more lines)` : shown
}

/** The mutated source. Throws PatchError unless `search` occurs exactly once and the result differs. */
export function applyPatch(source: string, patch: Patch): string {
  if (patch.search.length === 0) throw new PatchError('SEARCH_EMPTY', patch.name, patch.file, 'the search text is empty')
  if (patch.search === patch.replace) {
    throw new PatchError('NO_CHANGE', patch.name, patch.file, 'the replacement equals the search text')
  }
  const found = occurrences(source, patch.search)
  if (found.length === 0) {
    throw new PatchError(
      'SEARCH_NOT_FOUND',
      patch.name,
      patch.file,
      `search text not found: "${preview(patch.search)}" (was the code moved or changed? update the catalogue entry)`,
    )
  }
  if (found.length > 1) {
    throw new PatchError(
      'SEARCH_AMBIGUOUS',
      patch.name,
      patch.file,
      `search text found ${found.length} times (lines ${found.join(', ')}): "${preview(patch.search)}"; make it distinctive`,
    )
  }
  const at = source.indexOf(patch.search)
  // Slices, not String.replace: a replacement containing `$&` or `$1` must stay literal.
  return source.slice(0, at) + patch.replace + source.slice(at + patch.search.length)
}
