import { createHmac, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import bcrypt from 'bcryptjs'
import { FerryError } from '../errors.js'
import { ApiError } from './errors.js'

/**
 * Basic authentication against an htpasswd file of bcrypt lines (`user:$2y$…`), the one format
 * distribution's htpasswd backend accepts. Every request authenticates; a bcrypt comparison costs tens
 * of milliseconds, so credentials that verified once are remembered (as an HMAC under a per-process key,
 * never the password itself) and later requests cost a hash.
 */
export const REALM = 'ferry'

// bcrypt's modular crypt format: $2a$/$2b$/$2y$, two-digit cost, 53 characters of salt and hash.
const BCRYPT_RE = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/
const CACHE_MAX = 1024

export interface Authenticator {
  /** Throws a 401 ApiError (with the Basic challenge) unless the header carries valid credentials. */
  check(authorization: string | undefined): Promise<void>
}

export async function loadHtpasswd(path: string): Promise<Authenticator> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new FerryError('USAGE', `htpasswd file ${path}: ${(err as Error).message}`)
  }
  const users = new Map<string, string>()
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    const user = line.slice(0, colon)
    const hash = line.slice(colon + 1)
    // The line number only: a malformed line may be a password pasted in by mistake.
    if (colon <= 0 || !BCRYPT_RE.test(hash)) {
      throw new FerryError(
        'USAGE',
        `htpasswd file ${path}, line ${i + 1}: expected user:bcrypt-hash (htpasswd -B); other formats are not supported`,
      )
    }
    users.set(user, hash)
  }
  if (users.size === 0) throw new FerryError('USAGE', `htpasswd file ${path} lists no users`)
  return basicAuthenticator(users)
}

function unauthorized(message: string): ApiError {
  return new ApiError('UNAUTHORIZED', message, {
    headers: { 'WWW-Authenticate': `Basic realm="${REALM}"` },
  })
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '')
  if (!m) return undefined
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

export function basicAuthenticator(users: ReadonlyMap<string, string>): Authenticator {
  const key = randomBytes(32)
  const verified = new Set<string>()
  // Unknown users are compared against a real hash too, so timing does not tell which names exist.
  const decoy = bcrypt.hashSync(randomBytes(16).toString('hex'), 10)
  return {
    async check(authorization) {
      const creds = parseBasic(authorization)
      if (!creds) throw unauthorized('authentication required')
      const hash = users.get(creds.user)
      const mac = createHmac('sha256', key)
        .update(`${creds.user}\0${creds.password}\0${hash ?? ''}`)
        .digest('base64')
      if (hash && verified.has(mac)) return
      const ok = await bcrypt.compare(creds.password, hash ?? decoy)
      if (!ok || !hash) throw unauthorized('invalid username or password')
      if (verified.size >= CACHE_MAX) verified.clear()
      verified.add(mac)
    },
  }
}
