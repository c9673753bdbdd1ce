import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket, type TlsOptions } from 'node:tls'
import { TlsError } from './errors.js'
import type { Role } from './handshake.js'

/*
 * TLS (node:tls) for the listener and for outgoing connections. Off unless configured; the
 * plain-TCP path is untouched (no wrapper, no extra copy).
 *
 * Trust: one cluster CA. A dialing side verifies the listener's certificate against it and
 * checks that the host it dialed is in the certificate's subjectAltName (Node's
 * checkServerIdentity). The listener asks every connection for a certificate but decides per
 * role, at the hello: a peer must present one the CA signed (mutual TLS, always); a client
 * must only when `requireClientCert` is set, and a client certificate it does present must
 * verify.
 */

/** PEM text or bytes. */
export type Pem = string | Buffer

/** What the connecting side of a connection uses (a replica dialing a peer, a client). */
export interface DialTls {
  /** The CA that signed the listeners' certificates. */
  readonly ca: Pem
  /** Presented to the listener: a replica's own certificate, or a client certificate. */
  readonly cert?: Pem
  readonly key?: Pem
}

/** What a listening replica uses. */
export interface ListenTls {
  readonly ca: Pem
  readonly cert: Pem
  readonly key: Pem
  /** Clients must present a certificate the CA signed (peers always must). Default false. */
  readonly requireClientCert?: boolean
}

const minVersion = 'TLSv1.2'

export function serverTlsOptions(t: ListenTls, handshakeTimeoutMs: number): TlsOptions {
  // Every connection is asked for a certificate; whether it must have one depends on the
  // role its hello claims (tlsRefusal), so the TLS layer itself rejects nobody.
  return { ca: t.ca, cert: t.cert, key: t.key, requestCert: true, rejectUnauthorized: false, minVersion, handshakeTimeout: handshakeTimeoutMs }
}

/** Opens a TLS connection that verifies the listener against the CA and the host name. */
export function dialTls(t: DialTls, host: string, port: number, localAddress: string | undefined): TLSSocket {
  const options: ConnectionOptions = {
    host, port, ca: t.ca, minVersion, rejectUnauthorized: true,
    // SNI takes names only; an IP is checked against the certificate's IP SANs all the same.
    ...(isIP(host) === 0 ? { servername: host } : {}),
    ...(t.cert === undefined ? {} : { cert: t.cert }),
    ...(t.key === undefined ? {} : { key: t.key }),
    ...(localAddress === undefined ? {} : { localAddress }),
  }
  return tlsConnect(options)
}

/**
 * At the hello: null when the connection's certificate is enough for `role`, else why not.
 * `socket` is null on a plain-TCP listener.
 */
export function tlsRefusal(socket: TLSSocket | null, role: Role, requireClientCert: boolean, peerHost?: string): string | null {
  if (socket === null) return null
  const peerCert = socket.getPeerCertificate()
  const presented = Object.keys(peerCert).length > 0
  const why = socket.authorizationError === null || socket.authorizationError === undefined ? '' : `: ${String(socket.authorizationError)}`
  if (role === 'peer') {
    if (!presented) return 'peer hello without a certificate (peers are mutual TLS: present this replica\'s certificate)'
    if (!socket.authorized) return `peer certificate not signed by the cluster CA${why}`
    // A replica speaks for itself only: its certificate must be for the host the cluster
    // knows it by (another replica's certificate, or a client's, cannot claim its id).
    if (peerHost !== undefined && !certificateCovers(new X509Certificate(peerCert.raw), peerHost)) {
      return `peer certificate (${peerCert.subjectaltname ?? 'no subjectAltName'}) is not for this replica's host ${peerHost}`
    }
    return null
  }
  if (presented && !socket.authorized) return `client certificate not signed by the cluster CA${why}`
  if (requireClientCert && !presented) return 'this cluster requires a client certificate (tls.clientCertFile / clientKeyFile)'
  return null
}

/** The first bytes of a TLS record (a handshake, or an alert): the other side speaks TLS. */
export function looksLikeTls(chunk: Buffer): boolean {
  return chunk.length >= 2 && (chunk[0] === 0x16 || chunk[0] === 0x15) && chunk[1] === 0x03
}

const unknownCaCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
])
const badCertCodes = new Set([
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'INVALID_CA', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'INVALID_PURPOSE',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
])

/**
 * A dial that failed during the TLS handshake, as a typed error: the listener's certificate is
 * from another CA, is not for the host dialed, is expired or otherwise bad, or the handshake
 * failed (typically: the listener runs without TLS). Null for errors that are not TLS's.
 */
export function tlsDialError(err: Error | null, where: string, tcpConnected: boolean): TlsError | null {
  const code: string | undefined = err === null ? undefined : (err as NodeJS.ErrnoException).code
  const detail = err?.message ?? 'closed'
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new TlsError('TLS_NAME_MISMATCH', `${where}: the certificate is not for this host (${detail}); the advertised host must be in its subjectAltName (kv config certs puts it there)`, err)
  }
  if (code !== undefined && unknownCaCodes.has(code)) {
    return new TlsError('TLS_UNKNOWN_CA', `${where}: the certificate is not signed by the cluster CA (${code}: ${detail})`, err)
  }
  if (code !== undefined && badCertCodes.has(code)) return new TlsError('TLS_BAD_CERT', `${where}: certificate refused (${code}: ${detail})`, err)
  if (code?.startsWith('ERR_SSL_') === true) return new TlsError('TLS_HANDSHAKE_FAILED', `${where}: TLS handshake failed (${code}: ${detail})`, err)
  if (tcpConnected) {
    return new TlsError('TLS_HANDSHAKE_FAILED', `${where}: closed during the TLS handshake (${detail}); is the replica running without tls?`, err)
  }
  return null
}

// -------------------------------------------------------------------------------------------
// Certificate files: read and checked at start, so that a bad file is one clear error rather
// than an OpenSSL message on the first connection.

export interface TlsFiles {
  readonly caFile: string
  readonly certFile?: string
  readonly keyFile?: string
}

export interface TlsMaterial {
  readonly ca: Buffer
  readonly cert?: Buffer
  readonly key?: Buffer
}

/** Reads a PEM file; `TLS_CONFIG` when it cannot be read. */
export function readTlsFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file)
  } catch (e) {
    throw new TlsError('TLS_CONFIG', `cannot read the ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, e)
  }
}

function parseCert(pem: Pem, name: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem)
  } catch (e) {
    throw new TlsError('TLS_CONFIG', `the ${what} ${name} is not a PEM certificate: ${(e as Error).message}`, e)
  }
}

function checkValidity(cert: X509Certificate, name: string, what: string, now: Date): void {
  if (new Date(cert.validTo) < now) throw new TlsError('TLS_BAD_CERT', `the ${what} ${name} expired on ${cert.validTo}`)
  if (new Date(cert.validFrom) > now) throw new TlsError('TLS_BAD_CERT', `the ${what} ${name} is not valid before ${cert.validFrom}`)
}

/** What to call each item in an error: its file, or "(PEM)". */
export interface TlsNames {
  readonly ca: string
  readonly cert?: string
  readonly key?: string
}

/**
 * Checks a CA and (optionally) a certificate and its key: each parses, is within its validity
 * period, the certificate is signed by the CA and the key is its key. Throws `TlsError`
 * (`TLS_CONFIG`, `TLS_BAD_CERT`, `TLS_UNKNOWN_CA`).
 */
export function checkTlsMaterial(m: { readonly ca: Pem; readonly cert?: Pem | undefined; readonly key?: Pem | undefined }, names: TlsNames, now = new Date()): void {
  const caCert = parseCert(m.ca, names.ca, 'CA certificate')
  checkValidity(caCert, names.ca, 'CA certificate', now)
  if (m.cert === undefined && m.key === undefined) return
  const certName = names.cert ?? '(PEM)'
  const keyName = names.key ?? '(PEM)'
  if (m.cert === undefined || m.key === undefined) throw new TlsError('TLS_CONFIG', 'a certificate and its key go together')
  const x509 = parseCert(m.cert, certName, 'certificate')
  checkValidity(x509, certName, 'certificate', now)
  if (!x509.checkIssued(caCert) || !x509.verify(caCert.publicKey)) {
    throw new TlsError('TLS_UNKNOWN_CA', `the certificate ${certName} is not signed by the CA in ${names.ca}`)
  }
  let keyObject
  try {
    keyObject = createPrivateKey(m.key)
  } catch (e) {
    throw new TlsError('TLS_CONFIG', `the private key ${keyName} is not a PEM private key: ${(e as Error).message}`, e)
  }
  if (!x509.checkPrivateKey(keyObject)) throw new TlsError('TLS_CONFIG', `the private key ${keyName} does not belong to the certificate ${certName}`)
}

/** Reads the files and checks them as `checkTlsMaterial` does. */
export function loadTlsFiles(files: TlsFiles, now = new Date()): TlsMaterial {
  const ca = readTlsFile(files.caFile, 'CA certificate')
  const cert = files.certFile === undefined ? undefined : readTlsFile(files.certFile, 'certificate')
  const key = files.keyFile === undefined ? undefined : readTlsFile(files.keyFile, 'private key')
  checkTlsMaterial({ ca, cert, key }, { ca: files.caFile, ...(files.certFile === undefined ? {} : { cert: files.certFile }), ...(files.keyFile === undefined ? {} : { key: files.keyFile }) }, now)
  return { ca, ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) }
}

/**
 * Throws `TLS_NAME_MISMATCH` unless `host` (a name or an IP) is in the certificate's
 * subjectAltName: peers and clients dial the advertised host and would refuse the certificate.
 */
export function checkCertificateHost(certPem: Pem, host: string, file: string): void {
  const x509 = new X509Certificate(certPem)
  if (!certificateCovers(x509, host)) {
    throw new TlsError('TLS_NAME_MISMATCH', `the certificate ${file} is for ${x509.subjectAltName ?? '(no subjectAltName)'}, not for this replica's advertised host ${host}`)
  }
}

/** Whether `host` (a name or an IP) is in the certificate's subjectAltName. */
function certificateCovers(x509: X509Certificate, host: string): boolean {
  return isIP(host) === 0 ? x509.checkHost(host, { subject: 'never' }) !== undefined : x509.checkIP(host) !== undefined
}
