import { readFileSync } from 'node:fs'

/** The kv release: the version of this package (dist/ and src/ both sit one level below package.json). */
export const kvVersion: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
