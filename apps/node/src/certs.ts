/**
 * A development certificate authority for `kv config certs`: one CA, one certificate per
 * replica host (its subjectAltName is that host, as a DNS name or an IP address, so the
 * certificate verifies when peers and clients dial the advertised host), and one client
 * certificate. X.509 through node-forge; the RSA keys come from node:crypto (native, fast).
 *
 * For local use and tests. In production, issue the certificates from your own CA (cert-manager,
 * Vault, an internal PKI): kv only needs PEM files named in cluster.json's `tls` section.
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import path from 'node:path'
import type forgeModule from 'node-forge'
import { writeSecretFile } from './secret-file.js'

type Forge = typeof forgeModule

export interface Pair {
  readonly certPem: string
  readonly keyPem: string
}

const day = 24 * 60 * 60 * 1000
/** Validity of the dev CA and of the certificates it signs. */
export const caValidityDays = 3650
export const leafValidityDays = 825

/** Loaded on first use: only `kv config certs` needs it. */
async function loadForge(): Promise<Forge> {
  return (await import('node-forge')).default
}

function newKey(forge: Forge): { privateKey: forgeModule.pki.rsa.PrivateKey; publicKey: forgeModule.pki.rsa.PublicKey; keyPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const priv = forge.pki.privateKeyFromPem(keyPem)
  return { privateKey: priv, publicKey: forge.pki.setRsaPublicKey(priv.n, priv.e), keyPem }
}

/** A positive serial number of 16 random bytes (hex; the high bit clear). */
function serial(): string {
  const b = randomBytes(16)
  b[0] = b[0]! & 0x7f
  return b.toString('hex')
}

function validity(cert: forgeModule.pki.Certificate, days: number, now: Date): void {
  // Backdated a little: the clocks of a cluster's machines never agree to the second.
  cert.validity.notBefore = new Date(now.getTime() - 60 * 60 * 1000)
  cert.validity.notAfter = new Date(now.getTime() + days * day)
}

export async function createCa(name: string, now = new Date(), validDays = caValidityDays): Promise<Pair> {
  const forge = await loadForge()
  const key = newKey(forge)
  const cert = forge.pki.createCertificate()
  cert.publicKey = key.publicKey
  cert.serialNumber = serial()
  validity(cert, validDays, now)
  const subject = [{ name: 'commonName', value: name }, { name: 'organizationName', value: 'kv dev CA' }]
  cert.setSubject(subject)
  cert.setIssuer(subject)
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ])
  cert.sign(key.privateKey, forge.md.sha256.create())
  return { certPem: forge.pki.certificateToPem(cert), keyPem: key.keyPem }
}

export interface LeafOptions {
  readonly commonName: string
  /** Host names and IP addresses for the subjectAltName (a replica's advertised host). */
  readonly hosts: readonly string[]
  /** A replica's certificate serves (listener) and dials (peer links); a client's only dials. */
  readonly usage: 'replica' | 'client'
  /** Default `leafValidityDays`. */
  readonly validDays?: number
}

export async function signLeaf(ca: Pair, o: LeafOptions, now = new Date()): Promise<Pair> {
  const forge = await loadForge()
  const caCert = forge.pki.certificateFromPem(ca.certPem)
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem)
  const key = newKey(forge)
  const cert = forge.pki.createCertificate()
  cert.publicKey = key.publicKey
  cert.serialNumber = serial()
  validity(cert, o.validDays ?? leafValidityDays, now)
  cert.setSubject([{ name: 'commonName', value: o.commonName }])
  cert.setIssuer(caCert.subject.attributes)
  const altNames = o.hosts.map((h) => (isIP(h) === 0 ? { type: 2, value: h } : { type: 7, ip: h }))
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: o.usage === 'replica', clientAuth: true },
    ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ])
  cert.sign(caKey, forge.md.sha256.create())
  return { certPem: forge.pki.certificateToPem(cert), keyPem: key.keyPem }
}

export interface DevPkiResult {
  readonly dir: string
  readonly caReused: boolean
  /** host → its certificate and key files. */
  readonly hosts: ReadonlyArray<{ host: string; certFile: string; keyFile: string }>
  readonly client: { certFile: string; keyFile: string }
  readonly caFile: string
}

/**
 * Writes (into `dir`) `ca.crt`/`ca.key` (reused when both exist, so certificates for new hosts
 * join the same trust), `<host>.crt`/`<host>.key` for each host (named as the config's
 * `{host}` placeholder fills them in) and `client.crt`/`client.key`.
 * Keys are written 0600.
 */
export async function writeDevPki(dir: string, hosts: readonly string[], now = new Date()): Promise<DevPkiResult> {
  mkdirSync(dir, { recursive: true })
  const caFile = path.join(dir, 'ca.crt')
  const caKeyFile = path.join(dir, 'ca.key')
  const caReused = existsSync(caFile) && existsSync(caKeyFile)
  let ca: Pair
  if (caReused) {
    ca = { certPem: readFileSync(caFile, 'utf8'), keyPem: readFileSync(caKeyFile, 'utf8') }
    const x509 = new X509Certificate(ca.certPem)
    if (!x509.ca) throw new Error(`${caFile} is not a CA certificate`)
  } else {
    ca = await createCa(`kv dev CA ${randomBytes(3).toString('hex')}`, now)
    writePair(ca, caFile, caKeyFile)
  }
  const written: Array<{ host: string; certFile: string; keyFile: string }> = []
  for (const host of hosts) {
    const pair = await signLeaf(ca, { commonName: host, hosts: [host], usage: 'replica' }, now)
    const certFile = path.join(dir, `${host}.crt`)
    const keyFile = path.join(dir, `${host}.key`)
    writePair(pair, certFile, keyFile)
    written.push({ host, certFile, keyFile })
  }
  const client = await signLeaf(ca, { commonName: 'kv-client', hosts: [], usage: 'client' }, now)
  const clientFiles = { certFile: path.join(dir, 'client.crt'), keyFile: path.join(dir, 'client.key') }
  writePair(client, clientFiles.certFile, clientFiles.keyFile)
  return { dir, caReused, hosts: written, client: clientFiles, caFile }
}

function writePair(pair: Pair, certFile: string, keyFile: string): void {
  writeFileSync(certFile, pair.certPem, { mode: 0o644 })
  writeSecretFile(keyFile, pair.keyPem)
}
