import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { rootCertificates } from 'node:tls'
import { FerryError } from '../errors.js'

/**
 * Trust for one registry host: node's bundled roots, the operating system's bundle (where private
 * CAs installed with update-ca-certificates end up), NODE_EXTRA_CA_CERTS, the user's `caFiles`, and
 * docker's per-host directory `certs.d/HOST[:PORT]/` (`*.crt` CAs, `*.cert` + `*.key` client pairs).
 * Setting `ca` replaces node's defaults, hence the explicit list.
 */
export interface HostTls {
  ca: string[]
  cert?: string
  key?: string
}

const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Alpine
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL
  '/etc/ssl/cert.pem', // macOS, BSDs
]

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch {
    return undefined
  }
}

let systemCas: Promise<string[]> | undefined

function systemTrust(): Promise<string[]> {
  systemCas ??= (async () => {
    const out = [...rootCertificates]
    for (const path of SYSTEM_BUNDLES) {
      const pem = await readOptional(path)
      if (pem) {
        out.push(pem)
        break
      }
    }
    const extra = process.env.NODE_EXTRA_CA_CERTS
    if (extra) {
      const pem = await readOptional(extra)
      if (pem) out.push(pem)
    }
    return out
  })()
  return systemCas
}

export async function hostTls(host: string, caFiles: readonly string[], certsDir: string): Promise<HostTls> {
  const ca = [...(await systemTrust())]
  for (const file of caFiles) {
    const pem = await readOptional(file)
    if (pem === undefined) throw new FerryError('USAGE', `CA file ${file} cannot be read`)
    ca.push(pem)
  }
  const dir = join(certsDir, host)
  let names: string[] = []
  try {
    names = (await readdir(dir)).sort()
  } catch {
    // No per-host directory: nothing to add.
  }
  const out: HostTls = { ca }
  for (const name of names) {
    if (name.endsWith('.crt')) {
      const pem = await readOptional(join(dir, name))
      if (pem) ca.push(pem)
    } else if (name.endsWith('.cert') && !out.cert) {
      const cert = await readOptional(join(dir, name))
      const key = await readOptional(join(dir, `${name.slice(0, -'.cert'.length)}.key`))
      if (cert && key) Object.assign(out, { cert, key })
    }
  }
  return out
}
