import { chmodSync, writeFileSync } from 'node:fs'

/**
 * Writes a file only its owner may read or write (0600): cluster.json (it holds the tokens)
 * and private keys. Also when the file existed with wider permissions: `mode` applies only to
 * a file that is created, so the mode is set again after the write.
 */
export function writeSecretFile(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 })
  chmodSync(file, 0o600)
}
