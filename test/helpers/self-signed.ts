import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

/**
 * A P-256 self-signed certificate made by openssl in `dir`: `key.pem` and `cert.pem`. For a loopback
 * server, give `ip` (the subjectAltName TLS clients check); for a token issuer, a common name alone.
 */
export function selfSignedCert(
  dir: string,
  opts: { cn: string; ip?: string },
): { keyFile: string; certFile: string } {
  const keyFile = join(dir, 'key.pem')
  const certFile = join(dir, 'cert.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      `/CN=${opts.cn}`,
      ...(opts.ip ? ['-addext', `subjectAltName=IP:${opts.ip}`] : []),
    ],
    { stdio: 'ignore' },
  )
  return { keyFile, certFile }
}
