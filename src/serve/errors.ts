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

  constructor(
    code: ApiErrorCode,
    message: string,
    opts: {
      detail?: unknown
      status?: number
      headers?: Record<string, string>
      more?: ApiErrorEntry[]
    } = {},
  ) {
    super(message)
    this.name = 'ApiError'
    this.status = opts.status ?? API_ERRORS[code]
    this.entries = [{ code, message, detail: opts.detail ?? {} }, ...(opts.more ?? [])]
    this.headers = opts.headers ?? {}
  }

  get code(): ApiErrorCode {
    return this.entries[0]!.code
  }

  body(): string {
    return JSON.stringify({
      errors: this.entries.map((e) => ({ code: e.code, message: e.message, detail: e.detail ?? {} })),
    })
  }
}

/**
 * Library failures (FerryError from the layout or the manifest parser) in registry terms. `notFound` is
 * what a missing thing means where it was asked for (a manifest, a blob, a repository).
 */
export function toApiError(err: unknown, notFound: ApiErrorCode = 'MANIFEST_UNKNOWN'): ApiError {
  if (err instanceof ApiError) return err
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
        return new ApiError('UNAVAILABLE', message, { headers: { 'Retry-After': '1' } })
      default:
        break
    }
  }
  return new ApiError('UNKNOWN', 'internal server error', { detail: {} })
}
