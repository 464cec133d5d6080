import { resolveIfPresent } from '../content/present.js'
import { FerryError, isFerryError } from '../errors.js'
import { descriptorOf } from '../oci/descriptor.js'
import type { Digest } from '../oci/digest.js'
import { childrenOf, MAX_MANIFEST_BYTES, type Manifest, parseManifest, subjectOf } from '../oci/manifest.js'
import { NONDISTRIBUTABLE_MEDIA_TYPES } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import { acceptsMediaType } from './accept.js'
import { type Call, type RouteOf, readTarget, type ServeContext, writableLayout } from './context.js'
import { ApiError, type ApiErrorEntry, toApiError } from './errors.js'
import { readBounded, sendEmpty } from './http.js'
import { recordRequest } from './ledger.js'
import { checkPushedManifest } from './manifest-checks.js'
import { storeView } from './policy/view.js'
import { asWrite } from './write-gate.js'

type ManifestCall = Call<RouteOf<'manifest'>>

const referenceOf = (route: RouteOf<'manifest'>): string => route.digest ?? route.tag!
const display = (route: RouteOf<'manifest'>): string =>
  route.digest ? `${route.name}@${route.digest}` : `${route.name}:${route.tag}`

/**
 * What a failed read means to the client. A blob that is not a manifest is "no such manifest" too;
 * a missing tag in a repository that does not exist (reachable.ts) is NAME_UNKNOWN, as distribution answers.
 */
async function readFailure(ctx: ServeContext, route: RouteOf<'manifest'>, err: unknown): Promise<ApiError> {
  // Through the cache, the failure says what upstream did (not found there, or at fault: 502, 503).
  if (ctx.mirror) return toApiError(err)
  const absent = ['NOT_FOUND', 'MANIFEST_INVALID', 'MANIFEST_TOO_LARGE', 'UNSUPPORTED'] as const
  if (!absent.some((code) => isFerryError(err, code))) return toApiError(err)
  if (route.tag && !(await ctx.members.exists(route.name))) {
    return new ApiError('NAME_UNKNOWN', `repository ${route.name} is unknown`, {
      detail: { name: route.name },
    })
  }
  return new ApiError('MANIFEST_UNKNOWN', `manifest ${display(route)} is unknown`, {
    detail: { name: route.name, reference: referenceOf(route) },
  })
}

export async function getManifest(call: ManifestCall): Promise<void> {
  const { ctx, req, res, route } = call
  const target = readTarget(call)
  let desc: Descriptor
  let bytes: Uint8Array | undefined
  try {
    // A pull-through cache serves content by digest through any repository (upstream decides).
    if (route.digest && !ctx.mirror && !(await ctx.members.hasManifest(route.name, route.digest))) {
      throw new FerryError('NOT_FOUND', `${display(route)}: not in this repository`)
    }
    // Through the cache, a HEAD by digest reads no bytes either (they would count as served).
    if (req.method === 'HEAD' && (route.tag || ctx.mirror)) {
      // A tag's HEAD is answered from index.json alone: the cheap existence check mirrors rely on.
      desc = await target.resolve(referenceOf(route))
    } else {
      const m = await target.fetchManifest(referenceOf(route))
      desc = descriptorOf(m)
      bytes = m.bytes
    }
  } catch (err) {
    throw await readFailure(ctx, route, err)
  }
  // GET only: see pull-gate.ts for why a HEAD is answered.
  if (req.method === 'GET' && ctx.policy) {
    await ctx.policy
      .admitPull(pullView(call), desc.digest as Digest, route.tag)
      .catch(async (err: unknown) => {
        await recordRequest(call, { ...route, operation: 'pull', digest: desc.digest }, { err })
        throw err
      })
  }
  if (!acceptsMediaType(req.headers.accept, desc.mediaType)) {
    throw new ApiError(
      'MANIFEST_UNKNOWN',
      `manifest ${display(route)} is ${desc.mediaType}, which the request's Accept header excludes`,
      { detail: { name: route.name, reference: referenceOf(route), mediaType: desc.mediaType } },
    )
  }
  res.writeHead(200, {
    'Content-Type': desc.mediaType,
    'Content-Length': desc.size,
    'Docker-Content-Digest': desc.digest,
    ETag: `"${desc.digest}"`,
  })
  res.end(req.method === 'HEAD' ? undefined : bytes)
}

/** The repository as the pull gate reads it: the store's, or through the cache. */
const pullView = ({ ctx, route, query }: ManifestCall) =>
  ctx.mirror ? ctx.mirror.policyView(route.name, query) : storeView(ctx, route.name)

/** Descriptors the manifest needs stored here first: every blob (but foreign layers) and child manifest. */
async function missingReferences(ctx: ServeContext, name: string, m: Manifest): Promise<Descriptor[]> {
  const { manifests, blobs } = childrenOf(m)
  // Non-distributable layers live at their `urls`; registries do not hold them (image-spec layer.md).
  const needed = [
    ...manifests,
    ...blobs.filter((d) => !(NONDISTRIBUTABLE_MEDIA_TYPES.includes(d.mediaType) || d.urls?.length)),
  ]
  const target = writableLayout(ctx).target(name)
  // A child must be a manifest of this repository, not any blob of that digest (distribution 2.8 takes a
  // layer there).
  const present = await Promise.all([
    ...manifests.map((d) => ctx.members.hasManifest(name, d.digest as Digest)),
    ...needed.slice(manifests.length).map((d) => target.hasBlob(d)),
  ])
  return needed.filter((_, i) => !present[i])
}

export async function putManifest(call: ManifestCall): Promise<void> {
  const { ctx, req, res, route } = call
  const bytes = await readBounded(req, MAX_MANIFEST_BYTES, `manifest ${display(route)}`)
  let manifest: Manifest
  try {
    manifest = parseManifest(bytes, {
      contentType: req.headers['content-type'],
      expectedDigest: route.digest,
      subject: display(route),
    })
  } catch (err) {
    throw toApiError(err)
  }
  checkPushedManifest(manifest, req.headers['content-type'], display(route))
  const pushed = { ...route, operation: 'push', digest: manifest.digest }
  let existing: Digest | undefined
  // What it names must still be here when it is stored: no collection between the check and the write.
  await asWrite(ctx.gate, async () => {
    const missing = await missingReferences(ctx, route.name, manifest)
    if (missing.length > 0) {
      const entries: ApiErrorEntry[] = missing.map((d) => ({
        code: 'MANIFEST_BLOB_UNKNOWN',
        message: `${display(route)} references ${d.digest} (${d.size} bytes), which is not stored here`,
        detail: { digest: d.digest },
      }))
      const [first, ...more] = entries
      throw new ApiError('MANIFEST_BLOB_UNKNOWN', first!.message, { detail: first!.detail, more })
    }
    try {
      existing = await store(ctx, route, manifest)
    } catch (err) {
      const before =
        route.tag && ctx.ledger && (await resolveIfPresent(ctx.store.target(route.name), route.tag))
      await recordRequest(call, { ...pushed, ...(before ? { previous: before.digest } : {}) }, { err })
      throw err
    }
  })
  ctx.members.pushManifest(route.name, manifest.digest)
  await recordRequest(
    call,
    { ...pushed, ...(existing ? { previous: existing } : {}) },
    { verdict: existing === manifest.digest ? 'unchanged' : 'written' },
  )
  const headers: Record<string, string> = {
    Location: `/v2/${route.name}/manifests/${manifest.digest}`,
    'Docker-Content-Digest': manifest.digest,
  }
  // OCI 1.1: tells the client this registry indexed the subject, so no referrers-tag fallback is needed.
  const subject = subjectOf(manifest)
  if (subject) headers['OCI-Subject'] = subject.digest
  sendEmpty(res, 201, headers)
}

/**
 * Writes the manifest, under its tag when it has one. With a policy, the push is judged first and the
 * tag written on condition that it still names what was judged (a concurrent push in between is judged
 * again), so two clients racing for a new immutable tag cannot both win.
 */
async function store(
  ctx: ServeContext,
  route: RouteOf<'manifest'>,
  manifest: Manifest,
): Promise<Digest | undefined> {
  const target = writableLayout(ctx).target(route.name)
  for (let attempt = 1; ; attempt++) {
    const existing = ctx.policy
      ? await ctx.policy.admitPush(storeView(ctx, route.name), manifest, route.tag)
      : ctx.ledger && route.tag
        ? ((await resolveIfPresent(target, route.tag))?.digest as Digest | undefined)
        : undefined
    const precondition = ctx.policy && (existing ? { ifMatch: existing } : { ifAbsent: true as const })
    try {
      if (route.tag) await target.tag(manifest, route.tag, precondition ? { precondition } : {})
      else await target.pushManifest(manifest)
      return existing
    } catch (err) {
      if (!(precondition && isFerryError(err, 'CONFLICT') && attempt < MAX_JUDGED_WRITES))
        throw toApiError(err)
    }
  }
}

const MAX_JUDGED_WRITES = 3

export async function deleteManifest(call: ManifestCall): Promise<void> {
  const { ctx, res, route } = call
  const target = writableLayout(ctx).target(route.name)
  const going =
    route.digest ?? (ctx.ledger ? (await resolveIfPresent(target, route.tag!))?.digest : undefined) ?? ''
  const removal = { ...route, operation: 'delete', digest: going }
  try {
    await ctx.policy?.admitDelete(storeView(ctx, route.name), route)
  } catch (err) {
    await recordRequest(call, removal, { err })
    throw err
  }
  const held = await ctx.members.blobsHeld(route.name)
  try {
    if (route.digest) await deleteByDigest(ctx, route.name, route.digest)
    else await target.untag(route.tag!)
  } catch (err) {
    throw await readFailure(ctx, route, err)
  }
  // The repository keeps its blobs, and so exists, even once its last manifest is gone (reachable.ts).
  ctx.members.linkBlobs(route.name, held)
  await recordRequest(call, removal, { verdict: 'deleted' })
  sendEmpty(res, 202)
}

/**
 * Spec "Deleting Manifests": afterwards GET by the digest is 404, also for a manifest that an index of
 * the repository still lists (a child may have no entry of its own, as skopeo writes them).
 */
async function deleteByDigest(ctx: ServeContext, name: string, digest: Digest): Promise<void> {
  if (!(await ctx.members.hasManifest(name, digest))) {
    throw new FerryError('NOT_FOUND', `${name}@${digest}: not in this repository`)
  }
  try {
    await writableLayout(ctx).target(name).deleteManifest(digest)
  } catch (err) {
    if (!isFerryError(err, 'NOT_FOUND')) throw err
  }
  ctx.members.deleteManifest(name, digest)
}
