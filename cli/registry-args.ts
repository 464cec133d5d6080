import { FerryError } from '../src/errors.js'
import { parseReference } from '../src/reference/index.js'
import { apiHost } from '../src/registry/index.js'

/** `host`: a registry argument, HOST[:PORT]; `reference`: an image or repository on one (or oci:DIR). */
export type RegistryArgKind = 'host' | 'reference'

export interface SplitArg {
  /** The argument without its `https://` or `http://`. */
  rest: string
  scheme?: 'http' | 'https'
  /** The API host the scheme is for (lower case, Docker Hub's real host). */
  host: string
}

const SCHEME_RE = /^(https?):\/\//i

/**
 * `https://HOST[:PORT]/REPO[:TAG]` and `http://…`: a scheme is accepted in front of a registry (what a
 * port-forward or a browser shows) and nothing else of a URL: no path prefix like `/v2/`, no query.
 */
export function splitScheme(value: string, kind: RegistryArgKind): SplitArg {
  const m = SCHEME_RE.exec(value)
  if (!m) return { rest: value, host: '' }
  const scheme = m[1]!.toLowerCase() as 'http' | 'https'
  let rest = value.slice(m[0].length)
  if (kind === 'host' && rest.endsWith('/')) rest = rest.slice(0, -1)
  const host = rest.split('/')[0]!
  if (!host || (kind === 'host' ? rest.includes('/') : !rest.includes('/')) || /[?#]/.test(rest)) {
    throw new FerryError(
      'USAGE',
      `${value}: after ${scheme}:// comes ${kind === 'host' ? 'HOST[:PORT] alone' : 'HOST[:PORT]/REPO[:TAG|@DIGEST]'}`,
    )
  }
  return { rest, scheme, host: apiHost(host) }
}

/** The registry an argument names, as the registry client is given it; undefined for oci: and junk. */
export function registryOfArg(value: string, kind: RegistryArgKind): string | undefined {
  if (kind === 'host') return value.startsWith('oci:') ? undefined : value
  try {
    const ref = parseReference(value)
    return ref.kind === 'registry' ? ref.registry : undefined
  } catch {
    // The command reports the bad reference in its own words.
    return undefined
  }
}
