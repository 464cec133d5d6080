import { PassThrough, type Readable, Transform } from 'node:stream'
import { FerryError } from '../errors.js'
import { parseDigest, verifyingStream } from '../oci/digest.js'
import type { Descriptor } from '../oci/schemas.js'
import { chain } from '../util/chain.js'
import { pullScope, type RepoContext, v2Url } from './context.js'
import { NOT_FOUND_ENTRY } from './errors.js'
import { discard } from './http.js'
import { NetworkError, networkError } from './network-error.js'
import { Backoff, retryLine, withRetry } from './retry.js'
import { header, type RawResponse } from './transport.js'

/** Blob reads: `/v2/NAME/blobs/DIGEST` (distribution spec, "Pulling blobs"). */

const blobName = (ctx: RepoContext, desc: Descriptor) => `${ctx.name}@${desc.digest}`
// parseDigest refuses anything but `alg:hex`, which is then safe in a URL path.
const blobUrl = (ctx: RepoContext, desc: Descriptor) => v2Url(ctx, `blobs/${parseDigest(desc.digest).digest}`)
const REDIRECTS = [301, 302, 303, 307, 308]
const MAX_REDIRECTS = 5

export async function hasBlob(ctx: RepoContext, desc: Descriptor, budget?: Backoff): Promise<boolean> {
  const res = await ctx.http.request({
    registry: ctx.registry,
    method: 'HEAD',
    url: blobUrl(ctx, desc),
    scopes: pullScope(ctx.repository),
    subject: blobName(ctx, desc),
    expect: [200, 404],
    notFound: NOT_FOUND_ENTRY.blob,
    budget,
  })
  await discard(res)
  return res.status === 200
}

/**
 * GET from `offset`, following redirects by hand: registries send blob reads to object storage
 * (S3, GCS, a CDN) with 307, and the registry's Authorization must not travel there (the request layer
 * attaches it to the registry's own origin only).
 */
async function openAt(
  ctx: RepoContext,
  desc: Descriptor,
  offset: number,
  budget: Backoff,
): Promise<RawResponse> {
  let url = blobUrl(ctx, desc)
  const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {}
  for (let hop = 0; ; hop++) {
    const res = await ctx.http.request({
      registry: ctx.registry,
      method: 'GET',
      url,
      headers,
      scopes: pullScope(ctx.repository),
      subject: blobName(ctx, desc),
      expect: [200, 206, ...REDIRECTS],
      notFound: NOT_FOUND_ENTRY.blob,
      budget,
    })
    if (!REDIRECTS.includes(res.status)) return res
    await discard(res)
    const location = header(res, 'location')
    if (!location || hop >= MAX_REDIRECTS) {
      throw new FerryError(
        'REGISTRY',
        `${blobName(ctx, desc)}: ${location ? 'too many redirects' : 'redirect without Location'}`,
      )
    }
    url = new URL(location, url)
  }
}

/** Bytes to drop from the start of a response: 0 when the server honoured our Range, `offset` when it ignored it. */
function skipFor(res: RawResponse, offset: number, what: string): number {
  if (offset === 0 || res.status === 200) return res.status === 200 ? offset : 0
  const m = /^bytes (\d+)-/.exec(header(res, 'content-range') ?? '')
  if (!m || Number(m[1]) !== offset) {
    throw new FerryError(
      'REGISTRY',
      `${what}: asked for bytes from ${offset}, got range "${header(res, 'content-range') ?? ''}"`,
    )
  }
  return 0
}

/** Resolves once `out` wants more, or is gone (a consumer that gave up destroys it). */
const drained = (out: PassThrough) =>
  new Promise<void>((resolve) => {
    const done = () => {
      out.off('drain', done)
      out.off('close', done)
      resolve()
    }
    out.on('drain', done)
    out.on('close', done)
  })

/**
 * The body as one stream across resumptions: when the connection drops, the rest is asked for with
 * `Range: bytes=N-` and the bytes continue into the same stream. `budget` is the transfer's, the one the
 * first GET was made with: the resumptions here and the HTTP layer's retries of each GET draw on it, so
 * the count is one for the whole transfer. It counts failures without progress, not time since the
 * transfer began: bytes delivered since the last failure renew it, so a long blob on a link that drops
 * every minute still arrives, and a link that delivers nothing gives up.
 */
function resumable(
  ctx: RepoContext,
  desc: Descriptor,
  first: RawResponse,
  start: number,
  budget: Backoff,
): Readable {
  const what = blobName(ctx, desc)
  const out = new PassThrough()
  let res: RawResponse | undefined = first
  let offset = start
  let host = first.url.host
  const connection = async (b: Backoff) => {
    if (out.destroyed) return
    const resumed = !res
    res ??= await openAt(ctx, desc, offset, b)
    const body = res.body
    host = res.url.host
    try {
      let skip = resumed ? skipFor(res, offset, what) : 0
      for await (const raw of body) {
        if (out.destroyed) return
        let chunk = raw as Buffer
        if (skip > 0) {
          const drop = Math.min(skip, chunk.length)
          skip -= drop
          chunk = chunk.subarray(drop)
          if (chunk.length === 0) continue
        }
        offset += chunk.length
        if (!out.write(chunk)) await drained(out)
      }
      if (offset >= desc.size) return
      throw new NetworkError(
        host,
        'BODY_TRUNCATED',
        `body of ${what} ended after ${offset} of ${desc.size} bytes`,
      )
    } catch (err) {
      res = undefined
      b.reached(offset)
      throw err instanceof FerryError ? err : networkError(host, err)
    } finally {
      body.destroy()
    }
  }
  withRetry(budget, connection, {
    classify: (err) =>
      err instanceof NetworkError && err.transient && !out.destroyed
        ? { reason: `${err.errno} at byte ${offset}, resuming there` }
        : undefined,
    onRetry: (e) => ctx.http.transport.log(retryLine(`GET ${what}`, e)),
    signal: ctx.http.signal,
  }).then(
    () => {
      if (!out.destroyed) out.end()
    },
    (err: unknown) => out.destroy(err as Error),
  )
  return out
}

/** A stream of the blob that errors (never ends cleanly) unless size and digest match `desc`. */
export async function fetchBlob(ctx: RepoContext, desc: Descriptor): Promise<Readable> {
  const budget = new Backoff(ctx.http.policy)
  const first = await openAt(ctx, desc, 0, budget)
  const verify = verifyingStream({
    digest: desc.digest,
    size: desc.size,
    subject: `blob ${blobName(ctx, desc)}`,
  })
  // chain carries a source failure into `verify`, and a consumer that destroys `verify` stops the source.
  chain(resumable(ctx, desc, first, 0, budget), verify)
  return verify
}

/** Fails the stream unless exactly `expected` bytes pass (nothing else is known of a partial read). */
function sizeChecking(expected: number, what: string): Transform {
  let seen = 0
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length
      if (seen > expected)
        cb(new FerryError('SIZE_INVALID', `${what}: more than the ${expected} bytes asked for`))
      else cb(null, chunk)
    },
    flush(cb) {
      cb(
        seen === expected
          ? null
          : new FerryError('SIZE_INVALID', `${what}: got ${seen} bytes, expected ${expected}`),
      )
    },
  })
}

/**
 * Bytes [offset, size) of the blob, size-checked, not digest-checked: for continuing an upload another
 * run left at `offset` (the prefix is not read; the destination verifies the whole), and from 0 for a
 * consumer that hashes every byte itself (a copy's destination). From an offset it needs a 206: a
 * registry that answers a Range request with the whole blob (200) cannot serve a resume.
 */
export async function fetchBlobFrom(ctx: RepoContext, desc: Descriptor, offset: number): Promise<Readable> {
  const what = blobName(ctx, desc)
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= Math.max(desc.size, 1)) {
    throw new FerryError('USAGE', `${what}: cannot read from byte ${offset} of ${desc.size}`)
  }
  const budget = new Backoff(ctx.http.policy)
  const first = await openAt(ctx, desc, offset, budget)
  if (offset > 0) {
    try {
      if (first.status !== 206) {
        throw new FerryError('UNSUPPORTED', `${what}: range requests answered with HTTP ${first.status}`)
      }
      skipFor(first, offset, what)
    } catch (err) {
      await discard(first)
      throw err
    }
  }
  const check = sizeChecking(desc.size - offset, `blob ${what} from byte ${offset}`)
  chain(resumable(ctx, desc, first, offset, budget), check)
  return check
}
