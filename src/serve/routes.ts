import { type Digest, isDigest } from '../oci/digest.js'
import { isRepositoryName, isTag, REPOSITORY_MAX } from '../reference/grammar.js'
import { ApiError } from './errors.js'

/**
 * The request target to an endpoint of the distribution API, validated before anything else looks at it:
 * every name, digest, tag and upload id that leaves this module matches its grammar, so no later code can
 * be handed `..`, a slash, a backslash or an absolute path to build a file path from.
 */
export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; tag?: string; digest?: Digest }
  | { kind: 'blob'; name: string; digest: Digest }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'referrers'; name: string; digest: Digest }

/** The route as metrics label it: a template, the same for every repository, tag and digest. */
export const ROUTE_TEMPLATES: Record<Route['kind'], string> = {
  base: '/v2/',
  catalog: '/v2/_catalog',
  tags: '/v2/{name}/tags/list',
  manifest: '/v2/{name}/manifests/{reference}',
  blob: '/v2/{name}/blobs/{digest}',
  uploads: '/v2/{name}/blobs/uploads/',
  upload: '/v2/{name}/blobs/uploads/{id}',
  referrers: '/v2/{name}/referrers/{digest}',
}

export interface ParsedRequest {
  route: Route
  query: URLSearchParams
  /** The path as received (for logs), never decoded. */
  path: string
}

const NAME_MAX = REPOSITORY_MAX
const UPLOAD_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
// Only these bytes can appear in a valid path; anything else (`%`, `\`, spaces, …) is refused outright.
const PATH_CHARS_RE = /^[A-Za-z0-9._\-/:]*$/

export function checkName(name: string): string {
  if (!isRepositoryName(name)) {
    throw new ApiError('NAME_INVALID', `invalid repository name "${name.slice(0, NAME_MAX + 1)}"`, {
      detail: { name: name.slice(0, NAME_MAX + 1) },
    })
  }
  return name
}

export function checkDigest(value: string): Digest {
  if (!isDigest(value)) {
    throw new ApiError('DIGEST_INVALID', `invalid digest "${value.slice(0, 200)}"`, {
      detail: { digest: value.slice(0, 200) },
    })
  }
  return value
}

/** Tag or digest; what an invalid tag means depends on the method (nothing to find vs. a bad push). */
function manifestRoute(name: string, reference: string, method: string): Route {
  if (reference.includes(':')) return { kind: 'manifest', name, digest: checkDigest(reference) }
  if (!isTag(reference)) {
    const detail = { tag: reference.slice(0, 200) }
    // No manifest can be stored under it: MANIFEST_INVALID, a code of the spec's list.
    if (method === 'PUT') throw new ApiError('MANIFEST_INVALID', `invalid tag "${detail.tag}"`, { detail })
    throw new ApiError('MANIFEST_UNKNOWN', `no manifest ${name}:${detail.tag}`, { detail })
  }
  return { kind: 'manifest', name, tag: reference }
}

// Longest name first: each pattern is anchored at the end, so a repository named `a/blobs` still works.
const PATTERNS: [RegExp, (m: RegExpExecArray, method: string) => Route][] = [
  [/^(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: checkName(m[1]!) })],
  [
    /^(.+)\/referrers\/([^/]+)$/,
    (m) => ({ kind: 'referrers', name: checkName(m[1]!), digest: checkDigest(m[2]!) }),
  ],
  [/^(.+)\/manifests\/([^/]+)$/, (m, method) => manifestRoute(checkName(m[1]!), m[2]!, method)],
  [/^(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: checkName(m[1]!) })],
  [
    /^(.+)\/blobs\/uploads\/([^/]+)$/,
    (m) => {
      const name = checkName(m[1]!)
      if (!UPLOAD_ID_RE.test(m[2]!)) throw new ApiError('BLOB_UPLOAD_UNKNOWN', 'unknown upload session')
      return { kind: 'upload', name, id: m[2]! }
    },
  ],
  [/^(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: checkName(m[1]!), digest: checkDigest(m[2]!) })],
]

export function parseRequest(method: string, rawUrl: string): ParsedRequest {
  // Origin-form only (RFC 9112 §3.2.1); an absolute-form target names no path of ours.
  if (!rawUrl.startsWith('/')) throw new ApiError('NAME_INVALID', 'request target must be a path')
  const q = rawUrl.indexOf('?')
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q)
  const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1))
  // Percent-encoding is never needed by the grammar. `%3A` alone is decoded (some clients escape the
  // colon of a digest); `%2e%2e`, `%2f`, `%5c` and friends are refused before any matching happens.
  const path = rawPath.replace(/%3a/gi, ':')
  if (!PATH_CHARS_RE.test(path)) {
    throw new ApiError('NAME_INVALID', 'request path holds characters no repository, tag or digest can')
  }
  if (path === '/v2/' || path === '/v2') return { route: { kind: 'base' }, query, path: rawPath }
  if (!path.startsWith('/v2/')) throw new ApiError('UNSUPPORTED', `no endpoint at ${path}`, { status: 404 })
  const rest = path.slice('/v2/'.length)
  if (rest === '_catalog') return { route: { kind: 'catalog' }, query, path: rawPath }
  for (const [re, make] of PATTERNS) {
    const m = re.exec(rest)
    if (m) return { route: make(m, method), query, path: rawPath }
  }
  throw new ApiError('UNSUPPORTED', `no endpoint at ${path}`, { status: 404 })
}
