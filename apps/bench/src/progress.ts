/**
 * Where the run is, on stderr: a cli-progress bar on a terminal (total = the planned seconds
 * of load plus an allowance per system started), or one line per finished row otherwise
 * (CI logs, `--no-progress`), so stdout holds the table alone.
 */
import cliProgress from 'cli-progress'

/** Seconds the bar allows for starting a system and preloading its keys. */
export const STARTUP_ALLOWANCE_S = 4

export interface Progress {
  /** A new step: what runs now, and how many planned seconds it covers. */
  step(label: string, plannedSeconds: number): void
  /** Progress within the step: seconds done of its planned seconds, and a live figure. */
  update(doneSeconds: number, live: string): void
  /** A finished row, one line. */
  row(line: string): void
  /** A line that must be seen (a skipped comparator). */
  note(line: string): void
  stop(): void
}

export function createProgress(totalSeconds: number, rows: number, enabled: boolean): Progress {
  if (!enabled || process.stderr.isTTY !== true) return lineProgress(rows)
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: ' {bar} {percentage}% | ETA {eta_formatted} | row {row}/{rows} | {label} {live}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 40,
      fps: 4,
    },
    cliProgress.Presets.shades_classic,
  )
  let base = 0
  let planned = 0
  let row = 0
  bar.start(Math.max(1, Math.round(totalSeconds)), 0, { label: 'starting', live: '', row: 0, rows })
  return {
    step(label, plannedSeconds) {
      base += planned
      planned = plannedSeconds
      bar.update(Math.round(base), { label, live: '', row: Math.min(row + 1, rows) })
    },
    update(done, live) {
      bar.update(Math.round(base + Math.min(done, planned)), { live })
    },
    row() {
      row++
    },
    note(line) {
      // Printed above the bar, which redraws below it.
      process.stderr.write(`\r\x1b[2K${line}\n`)
    },
    stop() {
      bar.stop()
    },
  }
}

/** m:ss since `start`. */
export function clock(start: number, now = performance.now()): string {
  const s = Math.floor((now - start) / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

function lineProgress(rows: number): Progress {
  let row = 0
  const start = performance.now()
  return {
    step: () => undefined,
    update: () => undefined,
    row(line) {
      row++
      process.stderr.write(`[${row}/${rows} ${clock(start)}] ${line}\n`)
    },
    note(line) {
      process.stderr.write(`${line}\n`)
    },
    stop: () => undefined,
  }
}
