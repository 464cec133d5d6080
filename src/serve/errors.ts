import { STATUS_CODES } from 'node:http'
import { isFerryError } from '../errors.js'

/**
 * The error codes the registry answers with: the distribution-spec catalogue (spec.md "Error Codes"),
 * plus the few that CNCF distribution added and clients already know (PAGINATION_NUMBER_INVALID,
 * UNAVAILABLE, UNKNOWN), each with the status distribution pairs it with. A bad range has no code of
 * its own in the spec: it is 416 with BLOB_UPLOAD_INVALID.
 */
export const API_ERRORS = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  PAGINATION_NUMBER_INVALID: 400,
  UNAVAILABLE: 503,
  UNKNOWN: 500,
} as const

export type ApiErrorCode = keyof typeof API_ERRORS

export interface ApiErrorEntry {
  code: ApiErrorCode
  message: string
  detail?: unknown
}

/** A failure that becomes one HTTP answer: a status, extra headers, and the spec's `{"errors":[…]}` body. */
export class ApiError extends Error {
  readonly status: number
  readonly entries: ApiErrorEntry[]
  readonly headers: Record<string, string>
  private readonly forClient: boolean

  constructor(
    code: ApiErrorCode,
    message: string,
    opts: {
      detail?: unknown
      status?: number
      headers?: Record<string, string>
      more?: ApiErrorEntry[]
      /** What actually failed: logged by the server, never sent. */
      cause?: unknown
      /** The message was written for the client and names nothing of this server: a 5xx sends it too. */
      forClient?: boolean
    } = {},
  ) {
    super(message, { cause: opts.cause })
    this.name = 'ApiError'
    this.status = opts.status ?? API_ERRORS[code]
    this.entries = [{ code, message, detail: opts.detail ?? {} }, ...(opts.more ?? [])]
    this.headers = opts.headers ?? {}
    this.forClient = opts.forClient ?? false
  }

  get code(): ApiErrorCode {
    return this.entries[0]!.code
  }

  /**
   * The spec's `{"errors":[…]}`. A 5xx says only its code and status (unless its message was written
   * for the client): its message names files and errno codes of the server, which are for the server's
   * log. A long list (a manifest naming 30,000 missing blobs) keeps its first entries and says how many
   * more there were, so the answer stays small.
   */
  body(): string {
    if (this.status >= 500 && !this.forClient) {
      const message = (STATUS_CODES[this.status] ?? 'internal server error').toLowerCase()
      return JSON.stringify({ errors: [{ code: this.code, message, detail: {} }] })
    }
    const shown = this.entries.slice(0, MAX_ENTRIES).map((e) => ({
      code: e.code,
      message: e.message.length > MAX_MESSAGE ? `${e.message.slice(0, MAX_MESSAGE)}…` : e.message,
      detail: boundedDetail(e.detail),
    }))
    const omitted = this.entries.length - shown.length
    if (omitted > 0) {
      shown.push({
        code: this.code,
        message: `${omitted} more errors like these were not listed`,
        detail: { omitted },
      })
    }
    return JSON.stringify({ errors: shown })
  }
}

/** The errno code of an error or of what caused it (a stream pipeline wraps a write's failure in an AbortError). */
function errnoOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code
  }
  return undefined
}

const MAX_ENTRIES = 100
const MAX_MESSAGE = 1024
const MAX_DETAIL = 2048

function boundedDetail(detail: unknown): unknown {
  if (detail === undefined) return {}
  return JSON.stringify(detail).length > MAX_DETAIL ? { truncated: true } : detail
}

/** Disk and descriptor exhaustion, told apart from other internal errors so the client knows to retry. */
function resourceError(err: unknown): ApiError | undefined {
  const code = errnoOf(err)
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG') {
    return new ApiError('UNKNOWN', 'storage is full', { status: 507, cause: err })
  }
  if (code === 'EMFILE' || code === 'ENFILE') {
    return new ApiError('UNAVAILABLE', 'out of file descriptors', {
      headers: { 'Retry-After': '1' },
      cause: err,
    })
  }
  return undefined
}

/**
 * Library failures (FerryError from the layout or the manifest parser) in registry terms. `notFound` is
 * what a missing thing means where it was asked for (a manifest, a blob, a repository).
 */
export function toApiError(err: unknown, notFound: ApiErrorCode = 'MANIFEST_UNKNOWN'): ApiError {
  if (err instanceof ApiError) return err
  const resource = resourceError(err)
  if (resource) return resource
  const message = err instanceof Error ? err.message : String(err)
  if (isFerryError(err)) {
    switch (err.code) {
      case 'NOT_FOUND':
        return new ApiError(notFound, message)
      case 'DIGEST_INVALID':
      case 'DIGEST_MISMATCH':
        return new ApiError('DIGEST_INVALID', message)
      case 'SIZE_INVALID':
        return new ApiError('SIZE_INVALID', message)
      case 'MANIFEST_TOO_LARGE':
        return new ApiError('MANIFEST_INVALID', message, { status: 413 })
      case 'MANIFEST_INVALID':
      case 'UNSUPPORTED':
        return new ApiError('MANIFEST_INVALID', message)
      case 'REFERENCE_INVALID':
        return new ApiError('NAME_INVALID', message)
      case 'CONFLICT':
        // index.json stayed locked by another writer: a retry later will succeed.
        return new ApiError('UNAVAILABLE', message, { headers: { 'Retry-After': '1' }, cause: err })
      default:
        break
    }
  }
  return new ApiError('UNKNOWN', 'internal server error', { cause: err })
}
