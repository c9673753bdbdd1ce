/**
 * Writes the TLS fixtures of the tests (test-fixtures/tls: @kv/transport-tcp's, @kv/client's):
 * a CA, a replica certificate for 127.0.0.1 and localhost, one for another name, one from
 * another CA, an expired one, and a client certificate. Valid for a century, so they are made
 * once and committed: `node --conditions=@kv/source --import tsx scripts/tls-fixtures.ts`.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createCa, signLeaf, type Pair } from '../apps/node/src/certs.js'

const dir = fileURLToPath(new URL('../test-fixtures/tls/', import.meta.url))
const century = 36_500

function write(name: string, pair: Pair, withKey = true): void {
  writeFileSync(path.join(dir, `${name}.crt`), pair.certPem)
  if (withKey) writeFileSync(path.join(dir, `${name}.key`), pair.keyPem)
}

mkdirSync(dir, { recursive: true })
const ca = await createCa('kv test CA', new Date(), century)
write('ca', ca, false)
write('replica', await signLeaf(ca, { commonName: 'replica', hosts: ['127.0.0.1', 'localhost'], usage: 'replica', validDays: century }))
write('wrong-name', await signLeaf(ca, { commonName: 'elsewhere', hosts: ['elsewhere.example'], usage: 'replica', validDays: century }))
write('client', await signLeaf(ca, { commonName: 'kv-client', hosts: [], usage: 'client', validDays: century }))
const longAgo = new Date(Date.now() - 1000 * 24 * 60 * 60 * 1000)
write('expired', await signLeaf(ca, { commonName: 'expired', hosts: ['127.0.0.1'], usage: 'replica', validDays: 30 }, longAgo))
const otherCa = await createCa('another CA', new Date(), century)
write('other-ca', otherCa, false)
write('stranger', await signLeaf(otherCa, { commonName: 'stranger', hosts: ['127.0.0.1', 'localhost'], usage: 'replica', validDays: century }))
console.log(`wrote ${dir}`)
