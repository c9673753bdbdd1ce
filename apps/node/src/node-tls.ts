import { tlsPathFor, type ReplicaSpec } from '@kv/protocol'
import { checkCertificateHost, loadTlsFiles, type DialTls, type ListenTls } from '@kv/transport-tcp'
import { ConfigError, type ClusterConfig } from './config.js'

/** `kv node --tls-cert/--tls-key/--tls-ca`: this machine's files, over the config's paths. */
export interface TlsFileFlags {
  readonly tlsCert?: string
  readonly tlsKey?: string
  readonly tlsCa?: string
}

/** What a replica listens and dials with; null when the cluster runs without TLS. */
export interface NodeTls {
  readonly listen: ListenTls
  /** Peer links: the replica's own certificate is presented (mutual TLS). */
  readonly dial: DialTls
  readonly files: { readonly caFile: string; readonly certFile: string; readonly keyFile: string }
}

/**
 * The replica's TLS material: the config's `tls` paths with `{id}`/`{host}` filled in for this
 * replica, or the flags'. Read and checked now (readable, parsable, signed by the CA, the key
 * its key, not expired, and the advertised host in the certificate), so that a bad file stops
 * the start with one clear line instead of failing every connection later.
 */
export function nodeTls(config: ClusterConfig, me: ReplicaSpec, flags: TlsFileFlags): NodeTls | null {
  const tls = config.tls
  if (tls === undefined) {
    const given = (['tlsCert', 'tlsKey', 'tlsCa'] as const).filter((f) => flags[f] !== undefined)
    if (given.length > 0) {
      throw new ConfigError(`${given.map((f) => `--${f.replace('tls', 'tls-').toLowerCase()}`).join(', ')} given, but the cluster config has no tls section: TLS is on for the whole cluster or for none`)
    }
    return null
  }
  const certFile = flags.tlsCert ?? (tls.certFile === undefined ? undefined : tlsPathFor(tls.certFile, me))
  const keyFile = flags.tlsKey ?? (tls.keyFile === undefined ? undefined : tlsPathFor(tls.keyFile, me))
  const caFile = flags.tlsCa ?? tlsPathFor(tls.caFile, me)
  if (certFile === undefined || keyFile === undefined) {
    throw new ConfigError(`TLS is on (the config's tls section) but replica ${me.id} has no ${certFile === undefined ? 'certificate' : 'key'}: set tls.certFile and tls.keyFile, or --tls-cert and --tls-key`)
  }
  const m = loadTlsFiles({ caFile, certFile, keyFile })
  checkCertificateHost(m.cert!, me.host, certFile)
  return {
    listen: { ca: m.ca, cert: m.cert!, key: m.key!, requireClientCert: tls.requireClientCert },
    dial: { ca: m.ca, cert: m.cert!, key: m.key! },
    files: { caFile, certFile, keyFile },
  }
}
