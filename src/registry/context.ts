import { FerryError } from '../errors.js'
import { isDigest } from '../oci/digest.js'
import type { RegistryHttp } from './http.js'

/** What every repository operation needs: the HTTP layer and where the repository lives. */
export interface RepoContext {
  http: RegistryHttp
  /** As the user wrote it: `127.0.0.1:5000`, `docker.io`. */
  registry: string
  repository: string
  /** `${registry}/${repository}`, for messages. */
  name: string
  /** `http://127.0.0.1:5000`, `https://registry-1.docker.io`. */
  base: URL
  /** Upload chunk size; blobs up to this size go in one request. */
  chunkSize: number
}

export const v2Url = (ctx: RepoContext, path: string): URL =>
  new URL(`/v2/${ctx.repository}/${path}`, ctx.base)

/** `reg/repo:tag` or `reg/repo@sha256:…`, the way users write references. */
export const refName = (ctx: RepoContext, reference: string): string =>
  isDigest(reference) ? `${ctx.name}@${reference}` : `${ctx.name}:${reference}`

// distribution spec: a tag is `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`; anything else in a URL path is an injection.
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/

/** The path segment for a tag or digest, refused when it is neither. */
export function referencePath(ctx: RepoContext, reference: string): string {
  if (isDigest(reference) || TAG_RE.test(reference)) return reference
  throw new FerryError('REFERENCE_INVALID', `${ctx.name}: "${reference}" is neither a tag nor a digest`)
}

export const pullScope = (repository: string): string[] => [`repository:${repository}:pull`]
export const pushScope = (repository: string): string[] => [`repository:${repository}:pull,push`]
// distribution maps DELETE to the `delete` action; registries wanting more say so in their challenge.
export const deleteScope = (repository: string): string[] => [`repository:${repository}:delete`]
