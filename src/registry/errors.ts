import { z } from 'zod'
import { type ErrorCode, FerryError } from '../errors.js'

/** One entry of the distribution spec's error body (`{"errors":[{code,message,detail}]}`). */
export interface RegistryErrorEntry {
  code: string
  message?: string
  detail?: unknown
}

const errorBodySchema = z.looseObject({
  errors: z.array(
    z.looseObject({ code: z.string(), message: z.string().optional(), detail: z.unknown().optional() }),
  ),
})

/** The registry answered, and the answer was an error: its HTTP status and the registry's own codes. */
export class RegistryError extends FerryError {
  readonly status: number
  readonly registryCodes: string[]
  readonly errors: RegistryErrorEntry[]
  /** The answer's `Retry-After` (429, 503), for callers that retry on their own. */
  retryAfterMs?: number

  constructor(code: ErrorCode, message: string, status: number, errors: RegistryErrorEntry[]) {
    super(code, message)
    this.name = 'RegistryError'
    this.status = status
    this.errors = errors
    this.registryCodes = errors.map((e) => e.code)
  }

  override toJSON() {
    return { ...super.toJSON(), status: this.status, registryCodes: this.registryCodes }
  }
}

const NOT_FOUND_CODES = ['MANIFEST_UNKNOWN', 'BLOB_UNKNOWN', 'NAME_UNKNOWN', 'BLOB_UPLOAD_UNKNOWN']

/** Registry codes first (they are more precise than the status), then the status class. */
export function ferryCodeFor(status: number, registryCodes: readonly string[]): ErrorCode {
  if (registryCodes.some((c) => NOT_FOUND_CODES.includes(c))) return 'NOT_FOUND'
  if (registryCodes.includes('UNAUTHORIZED')) return 'UNAUTHORIZED'
  if (registryCodes.includes('DENIED')) return 'DENIED'
  if (registryCodes.includes('TOOMANYREQUESTS')) return 'TOO_MANY_REQUESTS'
  // distribution answers 405 UNSUPPORTED where an operation is switched off (deletes, a pull-through cache).
  if (registryCodes.includes('UNSUPPORTED') || status === 405) return 'UNSUPPORTED'
  if (status === 404) return 'NOT_FOUND'
  if (status === 401) return 'UNAUTHORIZED'
  if (status === 403) return 'DENIED'
  if (status === 429) return 'TOO_MANY_REQUESTS'
  return 'REGISTRY'
}

/** Parses an error body; anything that is not the spec's shape yields no entries. */
export function parseErrorBody(text: string): RegistryErrorEntry[] {
  if (!text) return []
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(text))
    return parsed.success ? parsed.data.errors : []
  } catch {
    return []
  }
}

/**
 * `127.0.0.1:5000/team/app:1.0: MANIFEST_UNKNOWN: manifest unknown (HTTP 404)`. A HEAD has no body, so
 * the caller may name the code the spec gives that status (`fallbackCode`) to keep messages uniform.
 */
export function registryError(
  subject: string,
  status: number,
  bodyText: string,
  fallback?: RegistryErrorEntry,
): RegistryError {
  let entries = parseErrorBody(bodyText)
  if (entries.length === 0 && fallback) entries = [fallback]
  const first = entries[0]
  const detail = first
    ? `${first.code}: ${oneLine(first.message ?? first.code.toLowerCase().replaceAll('_', ' '))}`
    : httpReason(status)
  const more = entries.length > 1 ? ` (+${entries.length - 1} more)` : ''
  return new RegistryError(
    ferryCodeFor(
      status,
      entries.map((e) => e.code),
    ),
    `${subject}: ${detail}${more} (HTTP ${status})`,
    status,
    entries,
  )
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim()
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat
}

function httpReason(status: number): string {
  const reasons: Record<number, string> = {
    400: 'bad request',
    401: 'authentication required',
    403: 'access denied',
    404: 'not found',
    405: 'operation not supported by the registry',
    409: 'conflict',
    412: 'precondition failed',
    416: 'range not satisfiable',
    429: 'too many requests',
    500: 'internal server error',
    502: 'bad gateway',
    503: 'service unavailable',
    504: 'gateway timeout',
  }
  return reasons[status] ?? 'unexpected response'
}

/** Codes the spec attaches to a 404 on each kind of resource, for HEAD answers that carry no body. */
export const NOT_FOUND_ENTRY = {
  manifest: { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' },
  blob: { code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' },
} as const satisfies Record<string, RegistryErrorEntry>
