/**
 * Runs `cleanUp` once when this test worker exits: normally, or on SIGTERM, SIGINT or SIGHUP
 * (then exits with the signal's conventional code). For helpers that change the machine
 * (firewall chains, network namespaces) and must undo it even when a run is cut short.
 */
export function onWorkerExit(what: string, cleanUp: () => void): void {
  let done = false
  const run = () => {
    if (done) return
    done = true
    try {
      cleanUp()
    } catch (e) {
      console.error(`could not remove ${what} of worker ${process.pid}: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  process.once('exit', run)
  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const) {
    process.once(signal, () => {
      run()
      process.exit(code)
    })
  }
}
