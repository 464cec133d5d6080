import { FerryError } from '../errors.js'
import { descriptorOf } from '../oci/descriptor.js'
import { type Digest, digestOf, isDigest, parseDigest } from '../oci/digest.js'
import { MAX_MANIFEST_BYTES, type Manifest, parseManifest } from '../oci/manifest.js'
import { MANIFEST_ACCEPT } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import {
  deleteScope,
  pullScope,
  pushScope,
  type RepoContext,
  referencePath,
  refName,
  v2Url,
} from './context.js'
import { NOT_FOUND_ENTRY, registryError } from './errors.js'
import { discard } from './http.js'
import { type Backoff, singleTry } from './retry.js'
import { header, type RawResponse, readBytes } from './transport.js'

/** Manifest endpoints: `/v2/NAME/manifests/REFERENCE` (distribution spec, "Pulling manifests"). */

const manifestUrl = (ctx: RepoContext, reference: string) =>
  v2Url(ctx, `manifests/${referencePath(ctx, reference)}`)

function digestHeader(res: RawResponse): Digest | undefined {
  const d = header(res, 'docker-content-digest')?.trim()
  return d && isDigest(d) ? d : undefined
}

/**
 * HEAD: the descriptor without the body (and, on Docker Hub, without spending pull quota). Undefined
 * when absent; `descriptor` is missing when the registry's HEAD does not name digest, type and size.
 */
export async function headManifest(
  ctx: RepoContext,
  reference: string,
  budget?: Backoff,
): Promise<{ descriptor?: Descriptor } | undefined> {
  const subject = refName(ctx, reference)
  const res = await ctx.http.request({
    registry: ctx.registry,
    method: 'HEAD',
    url: manifestUrl(ctx, reference),
    headers: { accept: MANIFEST_ACCEPT },
    scopes: pullScope(ctx.repository),
    subject,
    expect: [200, 404],
    notFound: NOT_FOUND_ENTRY.manifest,
    budget,
  })
  await discard(res)
  if (res.status === 404) return undefined
  const digest = digestHeader(res)
  const size = Number(header(res, 'content-length'))
  const mediaType = header(res, 'content-type')?.split(';')[0]?.trim()
  if (!digest || !mediaType || !Number.isSafeInteger(size)) return {}
  if (isDigest(reference) && digest !== reference) {
    throw new FerryError('DIGEST_MISMATCH', `${subject}: registry reports digest ${digest}`)
  }
  return { descriptor: { mediaType, digest, size } }
}

/** Tag or digest → descriptor by HEAD; by GET when the registry's HEAD does not name the digest. */
export async function resolveManifest(ctx: RepoContext, reference: string): Promise<Descriptor> {
  const head = await headManifest(ctx, reference)
  if (!head) throw registryError(refName(ctx, reference), 404, '', NOT_FOUND_ENTRY.manifest)
  if (head.descriptor) return head.descriptor
  const m = await fetchManifest(ctx, reference)
  return descriptorOf(m)
}

// Counted while reading too: a missing or lying Content-Length must not let a body grow unbounded.
function readManifestBody(res: RawResponse, subject: string): Promise<Uint8Array> {
  const tooLarge = (n: number) =>
    new FerryError(
      'MANIFEST_TOO_LARGE',
      `${subject}: manifest is ${n} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`,
    )
  const declared = Number(header(res, 'content-length'))
  if (Number.isFinite(declared) && declared > MAX_MANIFEST_BYTES) {
    res.body.destroy()
    return Promise.reject(tooLarge(declared))
  }
  return readBytes(res, MAX_MANIFEST_BYTES, tooLarge)
}

export async function fetchManifest(ctx: RepoContext, reference: string): Promise<Manifest> {
  const subject = refName(ctx, reference)
  const { res, value: bytes } = await ctx.http.fetch(
    {
      registry: ctx.registry,
      method: 'GET',
      url: manifestUrl(ctx, reference),
      headers: { accept: MANIFEST_ACCEPT },
      scopes: pullScope(ctx.repository),
      subject,
      expect: [200],
    },
    (r) => readManifestBody(r, subject),
  )
  const byDigest = isDigest(reference)
  const manifest = parseManifest(bytes, {
    contentType: header(res, 'content-type'),
    expectedDigest: byDigest ? reference : undefined,
    subject,
  })
  const announced = digestHeader(res)
  if (!byDigest && announced) {
    const actual = digestOf(bytes, parseDigest(announced).algorithm)
    if (actual !== announced) {
      throw new FerryError(
        'DIGEST_MISMATCH',
        `${subject}: registry announced ${announced}, content is ${actual}`,
      )
    }
  }
  return manifest
}

export interface PushedManifest {
  /** The `OCI-Subject` response header: the registry indexed the subject itself (referrers API). */
  ociSubject?: string
}

/**
 * PUT the exact bytes. A PUT whose answer was lost may have been stored: before it is sent again the
 * registry is asked (one HEAD) whether the reference already points at this digest.
 */
export async function pushManifest(
  ctx: RepoContext,
  manifest: Manifest,
  tag?: string,
  conditions: Record<string, string> = {},
): Promise<PushedManifest> {
  const reference = tag ?? manifest.digest
  const subject = refName(ctx, reference)
  const res = await ctx.http.write(
    {
      registry: ctx.registry,
      method: 'PUT',
      url: manifestUrl(ctx, reference),
      headers: { 'content-type': manifest.mediaType, ...conditions },
      body: Buffer.from(manifest.bytes.buffer, manifest.bytes.byteOffset, manifest.bytes.byteLength),
      scopes: pushScope(ctx.repository),
      subject,
      expect: [200, 201, 202],
    },
    async () =>
      (await headManifest(ctx, reference, singleTry(ctx.http.policy)))?.descriptor?.digest ===
      manifest.digest,
  )
  if (!res) return {}
  await discard(res)
  const stored = digestHeader(res)
  if (
    stored &&
    parseDigest(stored).algorithm === parseDigest(manifest.digest).algorithm &&
    stored !== manifest.digest
  ) {
    throw new FerryError(
      'DIGEST_MISMATCH',
      `${subject}: registry stored ${stored}, pushed ${manifest.digest}`,
    )
  }
  return { ociSubject: header(res, 'oci-subject') }
}

/**
 * DELETE by tag or digest. Sent as a non-idempotent request so that a lost answer is noticed: the DELETE
 * sent again that then meets 404 is the first one having worked, not NOT_FOUND.
 */
export async function deleteManifestRef(ctx: RepoContext, reference: string): Promise<void> {
  const res = await ctx.http.request({
    registry: ctx.registry,
    method: 'DELETE',
    url: manifestUrl(ctx, reference),
    scopes: deleteScope(ctx.repository),
    subject: refName(ctx, reference),
    expect: [200, 202, 204],
    idempotent: false,
    notFoundAfterLoss: true,
  })
  await discard(res)
  if (res.status === 404) {
    ctx.http.transport.log(`DELETE ${refName(ctx, reference)}: answer lost, and it is gone now`)
  }
}
