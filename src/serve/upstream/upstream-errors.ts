import { type ErrorCode, FerryError, isFerryError } from '../../errors.js'
import type { Logger } from '../../log.js'
import { NetworkError, RegistryError } from '../../registry/index.js'
import { ApiError, toApiError } from '../errors.js'

/** Upstream gone, overloaded or rate-limiting: a cached mapping is better than an error. */
export function upstreamUnavailable(err: unknown): boolean {
  if (err instanceof NetworkError) return true
  return err instanceof RegistryError && (err.status === 429 || err.status >= 500)
}

/** What upstream did wrong, in words for the client; the whole failure goes to the operator's log. */
const FAULTS: Partial<Record<ErrorCode, string>> = {
  DIGEST_MISMATCH: 'what upstream sent does not match its digest',
  DIGEST_INVALID: 'what upstream sent does not match its digest',
  SIZE_INVALID: 'what upstream sent is not the size its manifest declares',
  MANIFEST_TOO_LARGE: 'upstream sent a manifest over the size limit',
  MANIFEST_INVALID: 'upstream sent a manifest this cache cannot read',
  UNSUPPORTED: 'upstream sent an answer this cache cannot use',
  UNAUTHORIZED: 'upstream refused this cache’s credentials',
  DENIED: 'upstream denied this cache access',
  TOO_MANY_REQUESTS: 'upstream is rate-limiting this cache',
  NETWORK: 'upstream could not be reached',
  REGISTRY: 'upstream answered with an error',
}

/**
 * A failed request to upstream, in terms the caching target's readers act on. What upstream does not
 * have is NOT_FOUND, as on every target (a handler answers it 404; the pull gate reads it as absent),
 * with a message that says upstream was asked. An unavailable upstream is 503, as before; whatever else
 * upstream did wrong (a lying digest, an oversize or unreadable manifest, a refused login) is 502 Bad
 * Gateway with a message that says so, never a 4xx that blames the client (sweep L9): on a 5xx
 * containerd and podman try their next mirror, or upstream itself. Failures of this server (a full
 * disk, a bug) keep their own answers (toApiError).
 */
export function upstreamError(err: unknown, what: string, logger: Logger): ApiError | FerryError {
  if (err instanceof ApiError) return err
  if (isFerryError(err, 'NOT_FOUND')) return new FerryError('NOT_FOUND', `${what}: not found upstream`)
  if (upstreamUnavailable(err)) {
    logger.warn(`${what}: upstream unavailable: ${(err as Error).message}`)
    return new ApiError('UNAVAILABLE', `${what}: upstream unavailable and nothing cached`, { status: 503 })
  }
  const fault = isFerryError(err) ? FAULTS[err.code] : undefined
  if (fault === undefined) return toApiError(err)
  return new ApiError('UNKNOWN', `${what}: bad gateway: ${fault}`, {
    status: 502,
    forClient: true,
    cause: err,
  })
}
