import { MediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import { isRepositoryName, isTag } from '../reference/grammar.js'
import { type Call, type RouteOf, readTarget } from './context.js'
import { ApiError, toApiError } from './errors.js'
import { type Res, sendJson } from './http.js'

/** Larger pages are cut to this; the Link header leads on to the rest. */
export const PAGE_MAX = 10_000

/**
 * `?n=&last=` pagination over a sorted list (distribution-spec "Listing Tags"): entries after `last`, at
 * most `n`, and a `Link: <…>; rel="next"` when more follow. Without `n` the whole list is one page.
 */
export function paginate(
  items: readonly string[],
  query: URLSearchParams,
  path: string,
): { page: string[]; link?: string } {
  const nParam = query.get('n')
  const last = query.get('last')
  if (nParam !== null && !/^\d{1,9}$/.test(nParam)) {
    throw new ApiError('PAGINATION_NUMBER_INVALID', `invalid page size n=${nParam.slice(0, 20)}`, {
      detail: { n: nParam.slice(0, 20) },
    })
  }
  const after = last === null ? [...items] : items.filter((item) => item > last)
  const n = nParam === null ? undefined : Math.min(Number(nParam), PAGE_MAX)
  if (n === undefined || after.length <= n) return { page: after }
  const page = after.slice(0, n)
  if (page.length === 0) return { page }
  const next = new URLSearchParams({ n: String(n), last: page.at(-1)! })
  return { page, link: `<${path}?${next}>; rel="next"` }
}

export async function listTags(call: Call<RouteOf<'tags'>>): Promise<void> {
  const { ctx, res, route, query } = call
  // Through the cache, upstream says which repositories exist.
  const [exists, tags] = await Promise.all([
    ctx.mirror !== undefined || ctx.members.exists(route.name),
    readTarget(call).listTags(),
  ]).catch((err: unknown) => {
    throw toApiError(err)
  })
  // A repository whose tags were all deleted still exists: 200 with what is left (reachable.ts).
  if (!exists) {
    throw new ApiError('NAME_UNKNOWN', `repository ${route.name} is unknown`, {
      detail: { name: route.name },
    })
  }
  // Tags without a repository may be any ref.name (skopeo takes `a+b`); list only those a client can ask for.
  const { page, link } = paginate(tags.filter(isTag), query, `/v2/${route.name}/tags/list`)
  sendJson(res, 200, { name: route.name, tags: page }, link ? { Link: link } : {})
}

/**
 * `_catalog` (not in the spec, widely served): every repository of the root that a client can address.
 * Entries other tools wrote under names outside the grammar (`localhost:5000/app`) are left out.
 */
export async function listCatalog({ ctx, res, query }: Call<RouteOf<'catalog'>>): Promise<void> {
  // A pull-through cache lists the repositories it holds tags of.
  const names = (await (ctx.mirror ?? ctx.members).repositories()).filter(isRepositoryName)
  const { page, link } = paginate(names, query, '/v2/_catalog')
  sendJson(res, 200, { repositories: page }, link ? { Link: link } : {})
}

/** The `artifactType` a referrers request filters by; undefined: no filter. */
export const referrersFilter = (query: URLSearchParams): string | undefined =>
  query.get('artifactType') || undefined

/**
 * A referrers answer: always an image index (empty when nothing refers to the digest, never 404), and,
 * when the request filtered by artifactType, OCI-Filters-Applied saying `manifests` is filtered.
 */
export function sendReferrers(res: Res, manifests: Descriptor[], artifactType: string | undefined): void {
  const headers: Record<string, string> = artifactType ? { 'OCI-Filters-Applied': 'artifactType' } : {}
  sendJson(
    res,
    200,
    { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests },
    headers,
    MediaType.ociIndex,
  )
}

/** OCI 1.1 referrers API, filtered server side by `artifactType`. */
export async function listReferrers(call: Call<RouteOf<'referrers'>>): Promise<void> {
  const { res, route, query } = call
  const artifactType = referrersFilter(query)
  const manifests = await readTarget(call)
    .referrers(route.digest, artifactType ? { artifactType } : {})
    .catch((err: unknown) => {
      throw toApiError(err)
    })
  sendReferrers(res, manifests, artifactType)
}
