import { readFileSync, writeFileSync } from 'node:fs'
import { renderHtml } from './html.js'
import { checkResult } from './result.js'
writeFileSync(process.argv[3]!, renderHtml(checkResult(JSON.parse(readFileSync(process.argv[2]!, 'utf8')))))
