import { createHmac, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import bcrypt from 'bcryptjs'
import { FerryError } from '../errors.js'
import { Limiter } from '../util/limit.js'
import { ApiError } from './errors.js'

/**
 * Basic authentication against an htpasswd file of bcrypt lines (`user:$2y$…`), the one format
 * distribution's htpasswd backend accepts. Every request authenticates; a bcrypt comparison costs tens
 * of milliseconds, so credentials that verified once are remembered for a while (as an HMAC under a
 * per-process key, never the password itself) and later requests cost a hash.
 *
 * bcryptjs runs on the event loop in slices of up to 100 ms, and every pending comparison gets a slice
 * per loop turn: 64 parallel wrong logins held every other request, a remembered login included, for
 * seconds. So at most VERIFY_SLOTS comparisons run at once, VERIFY_QUEUE more wait, and beyond that a
 * login is told to retry (429) without any bcrypt work.
 */
export const REALM = 'ferry'

// bcrypt's modular crypt format: $2a$/$2b$/$2y$, two-digit cost, 53 characters of salt and hash.
const BCRYPT_RE = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/
const CACHE_MAX = 1024
// A push is hundreds of requests over minutes: one comparison per credential per 5 minutes.
const CACHE_TTL_MS = 5 * 60 * 1000
const VERIFY_SLOTS = 1
const VERIFY_QUEUE = 8

export interface Authenticator {
  /**
   * The user the header's credentials are valid for; throws a 401 ApiError (with the Basic challenge)
   * unless they are valid.
   */
  check(authorization: string | undefined): Promise<string>
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

/**
 * The cost an unknown user's decoy comparison is made at: the most common one of the file, so that
 * refusing a name that does not exist takes as long as refusing a wrong password (htpasswd -B writes
 * cost 5 by default; a fixed decoy of 10 made unknown names 30 times slower, which told them apart).
 */
function decoyCost(hashes: Iterable<string>): number {
  const counts = new Map<number, number>()
  for (const h of hashes) {
    const cost = Number(BCRYPT_RE.exec(h)?.[1] ?? 10)
    counts.set(cost, (counts.get(cost) ?? 0) + 1)
  }
  return [...counts].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]?.[0] ?? 10
}

export function basicAuthenticator(users: ReadonlyMap<string, string>): Authenticator {
  const key = randomBytes(32)
  // HMAC of user and password → when the verification expires.
  const verified = new Map<string, number>()
  // The same credentials arriving together (a client's parallel layer pushes) share one comparison.
  const inFlight = new Map<string, Promise<boolean>>()
  const decoy = bcrypt.hashSync(randomBytes(16).toString('hex'), decoyCost(users.values()))
  const slots = new Limiter(VERIFY_SLOTS)
  let admitted = 0

  const compare = (password: string, hash: string): Promise<boolean> => {
    if (admitted >= VERIFY_SLOTS + VERIFY_QUEUE) {
      throw new ApiError('TOOMANYREQUESTS', 'too many logins at once; retry shortly', {
        headers: { 'Retry-After': '1' },
      })
    }
    admitted++
    return slots
      .run(() => bcrypt.compare(password, hash))
      .finally(() => {
        admitted--
      })
  }

  const remember = (mac: string) => {
    const now = Date.now()
    if (verified.size >= CACHE_MAX) {
      for (const [k, expires] of verified) if (expires <= now) verified.delete(k)
      if (verified.size >= CACHE_MAX) verified.clear()
    }
    verified.set(mac, now + CACHE_TTL_MS)
  }

  return {
    async check(authorization) {
      const creds = parseBasic(authorization)
      if (!creds) throw unauthorized('authentication required')
      const hash = users.get(creds.user)
      const mac = createHmac('sha256', key)
        .update(`${creds.user}\0${creds.password}\0${hash ?? ''}`)
        .digest('base64')
      if (hash && (verified.get(mac) ?? 0) > Date.now()) return creds.user
      // Unknown users are compared against a decoy of the same cost, so timing does not tell which names exist.
      let pending = inFlight.get(mac)
      if (!pending) {
        pending = compare(creds.password, hash ?? decoy).finally(() => inFlight.delete(mac))
        inFlight.set(mac, pending)
      }
      const ok = await pending
      if (!ok || !hash) throw unauthorized('invalid username or password')
      remember(mac)
      return creds.user
    },
  }
}
