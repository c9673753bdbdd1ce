import { z } from 'zod'

/**
 * The `tls` section of cluster.json. When present, every connection is TLS: replicas listen
 * with TLS, dial their peers with TLS, and clients dial with TLS.
 *
 * - Clients verify each replica's certificate against `caFile`, and the replica's advertised
 *   host must be in the certificate's subjectAltName (`kv config certs` puts it there).
 * - Peers are always mutual TLS: a replica dialing another presents its own certificate, and a
 *   peer hello is accepted only on a connection whose certificate the CA signed.
 * - Clients present a certificate only when `requireClientCert` is set (then `clientCertFile` /
 *   `clientKeyFile` are what `kv` commands and `@kv/client` present).
 *
 * Paths may hold `{id}` (the replica id) and `{host}` (its advertised host), so one file can
 * name every machine's certificate: `"certFile": "tls/{host}.crt"`. A relative path is taken
 * from the folder of the cluster.json it was read from. `kv node --tls-cert/--tls-key/--tls-ca`
 * override the paths on one machine.
 */
const pathSchema = z.string().min(1).max(4096)

export const tlsSpecSchema = z
  .object({
    /** The CA that signed every replica's certificate (and the client certificates). */
    caFile: pathSchema,
    /** A replica's certificate and key (PEM). */
    certFile: pathSchema.optional(),
    keyFile: pathSchema.optional(),
    /** Whether clients must present a certificate the CA signed (peers always must). */
    requireClientCert: z.boolean().default(false),
    /** The certificate and key clients present. */
    clientCertFile: pathSchema.optional(),
    clientKeyFile: pathSchema.optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if ((t.certFile === undefined) !== (t.keyFile === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'certFile and keyFile go together', path: [t.certFile === undefined ? 'certFile' : 'keyFile'] })
    }
    if ((t.clientCertFile === undefined) !== (t.clientKeyFile === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'clientCertFile and clientKeyFile go together', path: [t.clientCertFile === undefined ? 'clientCertFile' : 'clientKeyFile'] })
    }
    if (t.requireClientCert && t.clientCertFile === undefined) {
      ctx.addIssue({ code: 'custom', message: 'requireClientCert needs clientCertFile and clientKeyFile (what clients present)', path: ['clientCertFile'] })
    }
  })

export type TlsSpec = z.infer<typeof tlsSpecSchema>

/** The file fields of the tls section. */
export const tlsFileFields = ['caFile', 'certFile', 'keyFile', 'clientCertFile', 'clientKeyFile'] as const

/** `{id}` and `{host}` of a path filled in for one replica. */
export function tlsPathFor(template: string, replica: { readonly id: string; readonly host: string }): string {
  return template.replaceAll('{id}', replica.id).replaceAll('{host}', replica.host)
}

/** The section with every relative path made relative to `resolve` (e.g. the config's folder). */
export function mapTlsPaths(tls: TlsSpec, resolve: (path: string) => string): TlsSpec {
  const out: Record<string, unknown> = { ...tls }
  for (const field of tlsFileFields) {
    const p = tls[field]
    if (p !== undefined) out[field] = resolve(p)
  }
  return out as TlsSpec
}
