import type { DeleteSupport } from '../content/target.js'
import { FerryError } from '../errors.js'
import { isDigest } from '../oci/digest.js'
import { isTag } from '../reference/grammar.js'
import { BlobKnowledge } from './blob-knowledge.js'
import type { RegistryHttp } from './http.js'

/** State one client keeps for every repository it hands out. */
export interface ClientShared {
  /** Per registry host: which deletes it allows, probed once. */
  deletes: Map<string, Promise<DeleteSupport>>
  /** Per registry host: whether it serves the referrers API. */
  referrersApi: Map<string, Promise<boolean>>
  /** Per subject (`registry/repository@digest`): the tail of the queue of tag-schema index writes. */
  referrerWrites: Map<string, Promise<void>>
  /** Per registry host: whether a `POST ?digest=` with the body completes an upload ("single POST"). */
  singlePost: Map<string, Promise<boolean>>
  /** What this client has seen of blobs: see blob-knowledge.ts. */
  blobs: BlobKnowledge
}

export const newClientShared = (): ClientShared => ({
  deletes: new Map(),
  referrersApi: new Map(),
  referrerWrites: new Map(),
  singlePost: new Map(),
  blobs: new BlobKnowledge(),
})

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
  shared: ClientShared
}

/**
 * Blobs up to this size go up whole (one request, read into memory first so a lost answer can simply be
 * sent again); larger ones stream through PATCHes of `chunkSize` bytes and are never held in memory.
 */
const WHOLE_UPLOAD_MAX = 1024 * 1024

export const wholeUploadMax = (ctx: RepoContext): number => Math.min(ctx.chunkSize, WHOLE_UPLOAD_MAX)

/** A promise kept per key until it fails (then the next caller tries again). */
export function cached<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = map.get(key)
  if (!p) {
    p = make()
    p.catch(() => map.delete(key))
    map.set(key, p)
  }
  return p
}

export const v2Url = (ctx: RepoContext, path: string): URL =>
  new URL(`/v2/${ctx.repository}/${path}`, ctx.base)

/** `reg/repo:tag` or `reg/repo@sha256:…`, the way users write references. */
export const refName = (ctx: RepoContext, reference: string): string =>
  isDigest(reference) ? `${ctx.name}@${reference}` : `${ctx.name}:${reference}`

/** The path segment for a tag or digest, refused when it is neither: anything else in a URL path is an injection. */
export function referencePath(ctx: RepoContext, reference: string): string {
  if (isDigest(reference) || isTag(reference)) return reference
  throw new FerryError('REFERENCE_INVALID', `${ctx.name}: "${reference}" is neither a tag nor a digest`)
}

export const pullScope = (repository: string): string[] => [`repository:${repository}:pull`]
export const pushScope = (repository: string): string[] => [`repository:${repository}:pull,push`]
// distribution maps DELETE to the `delete` action; registries wanting more say so in their challenge.
export const deleteScope = (repository: string): string[] => [`repository:${repository}:delete`]
