import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { catalogue, simChecks } from './catalogue.js'
import { applyPatch, occurrences, PatchError } from './patch.js'

const patch = (search: string, replace: string) => ({ name: 'demo', file: 'packages/demo/src/x.ts', search, replace })
const source = 'const a = 1\nif (ready && quorum) commit()\nconst b = 2\n'

function refusal(fn: () => unknown): PatchError {
  try {
    fn()
  } catch (e) {
    if (e instanceof PatchError) return e
    throw e
  }
  throw new Error('expected a PatchError')
}

describe('applyPatch', () => {
  it('replaces the one occurrence of the search text', () => {
    expect(applyPatch(source, patch(' && quorum', ''))).toBe('const a = 1\nif (ready) commit()\nconst b = 2\n')
  })

  it('refuses a search text that is not in the file, naming the entry and the file', () => {
    const e = refusal(() => applyPatch(source, patch('if (quorum)', 'if (true)')))
    expect(e.code).toBe('SEARCH_NOT_FOUND')
    expect(e.message).toContain('"demo"')
    expect(e.message).toContain('packages/demo/src/x.ts')
    expect(e.message).toContain('if (quorum)')
  })

  it('refuses an ambiguous search text and says where it occurs', () => {
    const e = refusal(() => applyPatch(source, patch('const ', 'let ')))
    expect(e.code).toBe('SEARCH_AMBIGUOUS')
    expect(e.message).toMatch(/2 times \(lines 1, 3\)/)
  })

  it('refuses an empty search text and a replacement that changes nothing', () => {
    expect(refusal(() => applyPatch(source, patch('', 'x'))).code).toBe('SEARCH_EMPTY')
    expect(refusal(() => applyPatch(source, patch('commit()', 'commit()'))).code).toBe('NO_CHANGE')
  })

  it('keeps $-patterns in the replacement literal', () => {
    expect(applyPatch('x = 1', patch('1', "'$&$1'"))).toBe("x = '$&$1'")
  })

  it('matches across lines, whitespace included', () => {
    expect(applyPatch(source, patch('commit()\nconst b', 'commit()\nlet b'))).toContain('let b = 2')
    expect(refusal(() => applyPatch(source, patch('commit() \nconst b', ''))).code).toBe('SEARCH_NOT_FOUND')
  })

  it('counts occurrences without overlap', () => {
    expect(occurrences('aaaa', 'aa')).toEqual([1, 1])
    expect(occurrences('a\nb\na', 'a')).toEqual([1, 3])
  })
})

describe('the catalogue', () => {
  const root = path.resolve(import.meta.dirname, '../..')

  it('has unique names and at least one check per entry', () => {
    expect(new Set(catalogue.map((m) => m.name)).size).toBe(catalogue.length)
    for (const m of catalogue) expect(m.checks.length + simChecks(m).length, m.name).toBeGreaterThan(0)
  })

  // When this fails, the code a mutation plants its bug in was moved or changed: update the
  // entry's search text in scripts/mutate/catalogue.ts (`pnpm mutate --list` shows them all).
  it('applies every entry to the current source exactly once', () => {
    for (const m of catalogue) {
      const text = readFileSync(path.join(root, m.file), 'utf8')
      expect(() => applyPatch(text, m), m.name).not.toThrow()
    }
  })
})
