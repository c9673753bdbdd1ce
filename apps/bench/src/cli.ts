/**
 * `pnpm bench`: throughput and latency of real kv clusters on this machine (processes on
 * 127.0.0.1, WAL + LMDB on disk), beside etcd and redis under the same load generator.
 * Figures, not pass/fail: on a shared machine run it more than once. See README.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { closeFirewall } from './failover.js'
import { benchCommand, resolveOptions } from './flags.js'
import { renderHtml } from './html.js'
import { checkResult, jsonSchema } from './result.js'
import { runBench } from './run.js'
import { formatReport } from './table.js'

function writeOut(file: string, text: string): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
  writeFileSync(file, text)
}

const program = benchCommand().action(async (flags: Parameters<typeof resolveOptions>[0]) => {
  const o = resolveOptions(flags)
  if (o.printJsonSchema) {
    process.stdout.write(JSON.stringify(jsonSchema(), null, 2) + '\n')
    return
  }
  try {
    const result = o.fromJson === null ? await runBench(o) : checkResult(JSON.parse(readFileSync(o.fromJson, 'utf8')))
    process.stdout.write(formatReport(result) + '\n')
    if (o.json !== null && o.fromJson === null) {
      writeOut(o.json, JSON.stringify(result, null, 2) + '\n')
      process.stderr.write(`bench: wrote ${o.json}\n`)
    }
    if (o.html !== null) {
      writeOut(o.html, renderHtml(result))
      process.stderr.write(`bench: wrote ${o.html}\n`)
    }
  } finally {
    closeFirewall()
  }
})

program.parseAsync().then(
  // Clients and timers may linger a moment; the run is over.
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
    process.exit(1)
  },
)
