import { Readable, Transform } from 'node:stream'
import { FerryError } from '../errors.js'
import { parseDigest, verifyingStream } from '../oci/digest.js'
import type { Descriptor } from '../oci/schemas.js'
import { chain } from '../util/chain.js'
import { pullScope, type RepoContext, v2Url } from './context.js'
import { NOT_FOUND_ENTRY } from './errors.js'
import { discard } from './http.js'
import { NetworkError, networkError } from './network-error.js'
import { Backoff, sleep } from './retry.js'
import { header, type RawResponse } from './transport.js'

/** Blob reads: `/v2/NAME/blobs/DIGEST` (distribution spec, "Pulling blobs"). */

const blobName = (ctx: RepoContext, desc: Descriptor) => `${ctx.name}@${desc.digest}`
// parseDigest refuses anything but `alg:hex`, which is then safe in a URL path.
const blobUrl = (ctx: RepoContext, desc: Descriptor) => v2Url(ctx, `blobs/${parseDigest(desc.digest).digest}`)
const REDIRECTS = [301, 302, 303, 307, 308]
const MAX_REDIRECTS = 5

export async function hasBlob(ctx: RepoContext, desc: Descriptor): Promise<boolean> {
  const res = await ctx.http.request({
    registry: ctx.registry,
    method: 'HEAD',
    url: blobUrl(ctx, desc),
    scopes: pullScope(ctx.repository),
    subject: blobName(ctx, desc),
    expect: [200, 404],
    notFound: NOT_FOUND_ENTRY.blob,
  })
  await discard(res)
  return res.status === 200
}

/**
 * GET from `offset`, following redirects by hand: registries send blob reads to object storage
 * (S3, GCS, a CDN) with 307, and the registry's Authorization must not travel there (the request layer
 * attaches it to the registry's own origin only).
 */
async function openAt(ctx: RepoContext, desc: Descriptor, offset: number): Promise<RawResponse> {
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

/**
 * The body as one stream across resumptions: when the connection drops, the rest is asked for with
 * `Range: bytes=N-` and the bytes continue into the same verifier. The retry budget counts failures
 * without progress, not time since the transfer began.
 */
async function* pieces(
  ctx: RepoContext,
  desc: Descriptor,
  first: RawResponse,
  start = 0,
): AsyncGenerator<Buffer> {
  const what = blobName(ctx, desc)
  const backoff = new Backoff(ctx.http.policy)
  let res = first
  let offset = start
  let skip = 0
  try {
    for (;;) {
      try {
        for await (const raw of res.body) {
          let chunk = raw as Buffer
          if (skip > 0) {
            const drop = Math.min(skip, chunk.length)
            skip -= drop
            chunk = chunk.subarray(drop)
            if (chunk.length === 0) continue
          }
          offset += chunk.length
          yield chunk
        }
        if (offset >= desc.size) return
        throw new NetworkError(
          res.url.host,
          'BODY_TRUNCATED',
          `body of ${what} ended after ${offset} of ${desc.size} bytes`,
        )
      } catch (err) {
        const failure =
          err instanceof FerryError && !(err instanceof NetworkError) ? err : networkError(res.url.host, err)
        // A connection that delivered bytes since the last failure renews the budget: a long blob on a
        // link that drops every minute still arrives, a link that delivers nothing gives up.
        backoff.reached(offset)
        const delay = failure instanceof NetworkError && failure.transient ? backoff.next() : undefined
        if (delay === undefined) throw failure
        ctx.http.transport.log(
          `GET ${what}: ${failure instanceof NetworkError ? failure.errno : failure.code} at byte ${offset}, resuming (try ${backoff.attempt}) in ${Math.round(delay)} ms`,
        )
        res.body.destroy()
        await sleep(delay)
        res = await openAt(ctx, desc, offset)
        skip = skipFor(res, offset, what)
      }
    }
  } finally {
    res.body.destroy()
  }
}

/** A stream of the blob that errors (never ends cleanly) unless size and digest match `desc`. */
export async function fetchBlob(ctx: RepoContext, desc: Descriptor): Promise<Readable> {
  const first = await openAt(ctx, desc, 0)
  const verify = verifyingStream({
    digest: desc.digest,
    size: desc.size,
    subject: `blob ${blobName(ctx, desc)}`,
  })
  const source = Readable.from(pieces(ctx, desc, first), { objectMode: false })
  // chain carries a source failure into `verify`, and a consumer that destroys `verify` stops the source.
  chain(source, verify)
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
 * Bytes [offset, size) of the blob, for continuing an upload another run left there: size-checked,
 * not digest-checked (the prefix is not read; the destination verifies the whole). Needs a 206: a
 * registry that answers a Range request with the whole blob (200) cannot serve a resume.
 */
export async function fetchBlobFrom(ctx: RepoContext, desc: Descriptor, offset: number): Promise<Readable> {
  const what = blobName(ctx, desc)
  if (!Number.isSafeInteger(offset) || offset <= 0 || offset >= desc.size) {
    throw new FerryError('USAGE', `${what}: cannot read from byte ${offset} of ${desc.size}`)
  }
  const first = await openAt(ctx, desc, offset)
  try {
    if (first.status !== 206) {
      throw new FerryError('UNSUPPORTED', `${what}: range requests answered with HTTP ${first.status}`)
    }
    skipFor(first, offset, what)
  } catch (err) {
    await discard(first)
    throw err
  }
  const check = sizeChecking(desc.size - offset, `blob ${what} from byte ${offset}`)
  chain(Readable.from(pieces(ctx, desc, first, offset), { objectMode: false }), check)
  return check
}
