import { FerryError } from '../errors.js'
import type { Descriptor } from '../oci/schemas.js'
import { pushScope, type RepoContext, v2Url } from './context.js'
import { RegistryError } from './errors.js'
import { discard } from './http.js'
import type { Backoff } from './retry.js'
import { header, type RawResponse } from './transport.js'

/**
 * The upload session's primitives (distribution spec, "Pushing blobs"): open it (POST), ask what it
 * holds (GET, its `Range`), commit it (PUT `?digest=`), drop it (DELETE). upload.ts decides when, and
 * passes the upload's retry budget (`budget`) so that every request of one blob draws on it.
 */

export const OCTETS = 'application/octet-stream'

export function locationOf(res: RawResponse, what: string): URL {
  const loc = header(res, 'location')
  if (!loc) throw new FerryError('REGISTRY', `${what}: upload response without Location (HTTP ${res.status})`)
  return new URL(loc, res.url)
}

/** `Range: 0-N` → the registry holds N+1 bytes (some registries send `0--1` for an empty session). */
export function heldBytes(res: RawResponse): number | undefined {
  const m = /^(?:bytes=)?0-(-?\d+)$/.exec(header(res, 'range')?.trim() ?? '')
  return m ? Number(m[1]) + 1 : undefined
}

// distribution 2.8 answers `0-0` both for an empty session and for one holding 1 byte: either could be
// true, so a status that says `0-0` is no basis to continue from.
const ambiguous = (res: RawResponse) => /^(?:bytes=)?0-0$/.test(header(res, 'range')?.trim() ?? '')

export async function startUpload(ctx: RepoContext, what: string, budget?: Backoff): Promise<URL> {
  const res = await ctx.http.request({
    registry: ctx.registry,
    method: 'POST',
    url: v2Url(ctx, 'blobs/uploads/'),
    scopes: pushScope(ctx.repository),
    subject: what,
    expect: [202],
    // Repeating a POST only opens another session; the lost one expires on its own.
    idempotent: true,
    budget,
  })
  await discard(res)
  return locationOf(res, what)
}

/**
 * Opens the upload of a whole small blob. Where the registry completes a `POST ?digest=` carrying the
 * body (distribution-spec "single POST": ferry serve, zot) that one request is the upload, and this
 * returns undefined. A registry that does not (distribution 2.8) answers 202 with a session, having
 * dropped the body: the caller PUTs it there. The first small upload to a registry finds out which, while
 * the others wait for its answer; the rest go the way it answered.
 */
export async function startWhole(
  ctx: RepoContext,
  desc: Descriptor,
  body: Buffer,
  what: string,
  budget?: Backoff,
): Promise<URL | undefined> {
  const { singlePost } = ctx.shared
  const known = singlePost.get(ctx.registry)
  if (known) {
    return (await known) ? singlePostUpload(ctx, desc, body, what, budget) : startUpload(ctx, what, budget)
  }
  let learned: (supported: boolean) => void = () => {}
  singlePost.set(ctx.registry, new Promise((resolve) => (learned = resolve)))
  try {
    const location = await singlePostUpload(ctx, desc, body, what, budget)
    learned(location === undefined)
    return location
  } catch (err) {
    // Nothing learned: the waiters take the two-request way, and the next upload asks again.
    singlePost.delete(ctx.registry)
    learned(false)
    throw err
  }
}

async function singlePostUpload(
  ctx: RepoContext,
  desc: Descriptor,
  body: Buffer,
  what: string,
  budget: Backoff | undefined,
): Promise<URL | undefined> {
  const res = await sendWithDigest(ctx, desc, body, what, {
    method: 'POST',
    target: v2Url(ctx, 'blobs/uploads/'),
    expect: [201, 202],
    // Sent again, it is the same content by digest (or another session that expires on its own).
    idempotent: true,
    budget,
  })
  return res.status === 201 ? undefined : locationOf(res, what)
}

/** The request that names the digest and carries (the rest of) the body: a single POST, or the closing PUT. */
async function sendWithDigest(
  ctx: RepoContext,
  desc: Descriptor,
  body: Buffer,
  what: string,
  req: { method: 'POST' | 'PUT'; target: URL; expect: number[]; idempotent?: boolean; budget?: Backoff },
) {
  const { method, target, expect, idempotent, budget } = req
  const url = new URL(target)
  url.searchParams.set('digest', desc.digest)
  const res = await ctx.http
    .request({
      registry: ctx.registry,
      method,
      url,
      headers: { 'content-type': OCTETS },
      body,
      scopes: pushScope(ctx.repository),
      subject: what,
      expect,
      idempotent,
      budget,
    })
    .catch((err: unknown) => Promise.reject(digestRefused(err, what)))
  await discard(res)
  return res
}

export async function uploadStatus(ctx: RepoContext, location: URL, what: string, budget?: Backoff) {
  const res = await ctx.http.request({
    registry: ctx.registry,
    method: 'GET',
    url: location,
    scopes: pushScope(ctx.repository),
    subject: what,
    // distribution answers 404 for a session it dropped; others 400 or 416. Either way it is gone.
    expect: [200, 204, 400, 404, 416],
    budget,
  })
  await discard(res)
  const held = heldBytes(res)
  if (res.status >= 400 || held === undefined || ambiguous(res)) return undefined
  return { held, location: header(res, 'location') ? locationOf(res, what) : location }
}

/** Best effort: a session the registry keeps anyway expires on its own. */
export async function cancelUpload(ctx: RepoContext, location: URL, what: string): Promise<void> {
  await ctx.http
    .request({
      registry: ctx.registry,
      method: 'DELETE',
      url: location,
      scopes: pushScope(ctx.repository),
      subject: what,
      expect: [200, 202, 204, 404],
    })
    .then(discard)
    .catch(() => {})
}

// Spec, "Pushing a blob in chunks": the registry hashes what the session holds and refuses a mismatch
// with DIGEST_INVALID. For a resumed upload that is the only check of the whole blob.
export function digestRefused(err: unknown, what: string): unknown {
  if (!(err instanceof RegistryError && err.registryCodes.includes('DIGEST_INVALID'))) return err
  return new FerryError(
    'DIGEST_MISMATCH',
    `${what}: the uploaded content does not hash to the blob digest (DIGEST_INVALID, HTTP ${err.status})`,
  )
}

export async function commit(
  ctx: RepoContext,
  location: URL,
  desc: Descriptor,
  body: Buffer,
  what: string,
  budget?: Backoff,
) {
  await sendWithDigest(ctx, desc, body, what, { method: 'PUT', target: location, expect: [201, 204], budget })
}
