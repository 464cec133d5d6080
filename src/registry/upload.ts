import type { Readable } from 'node:stream'
import type { BlobPushOptions, UploadSession } from '../content/capabilities.js'
import { FerryError } from '../errors.js'
import type { Descriptor } from '../oci/schemas.js'
import { BlobReader, type Mark } from './blob-reader.js'
import { hasBlob } from './blobs.js'
import { pushScope, type RepoContext, wholeUploadMax } from './context.js'
import { RegistryError } from './errors.js'
import { discard } from './http.js'
import { mayHaveApplied, NetworkError } from './network-error.js'
import { Backoff, type RetryHooks, retryLine, singleTry, statusProvesNotApplied, withRetry } from './retry.js'
import {
  cancelUpload,
  commit,
  heldBytes,
  locationOf,
  OCTETS,
  startUpload,
  startWhole,
  uploadStatus,
} from './upload-session.js'

export { cancelUpload }

/**
 * Blob uploads (distribution spec, "Pushing blobs"): POST opens a session, PATCH appends chunks with
 * `Content-Range`, PUT `?digest=` commits. A PATCH or PUT whose answer was lost is never repeated
 * blindly: the registry is asked what it holds (GET on the session for its `Range`, HEAD on the blob)
 * and the upload continues from there.
 *
 * A session outlives the process: `onSession` hands its URL and offset to whoever keeps them, and
 * `pushBlobFrom` continues it in a later run. distribution 2.8 purges sessions after 168h and signs
 * the offset into the URL's `_state`: only the latest Location works, an older one answers 404.
 *
 * One retry budget covers a whole blob and is renewed whenever the registry holds more than ever
 * before (retry.ts). Every request of the upload draws on it, the HTTP layer's retries of each request
 * (a 429/503 answered to a PATCH held in memory) as well as the retries here (a streamed PATCH sent
 * again, a lost answer continued from the registry's offset, a new session), so they never multiply.
 */

const describe = (err: unknown) =>
  err instanceof RegistryError ? `HTTP ${err.status}` : err instanceof NetworkError ? err.errno : String(err)

const logged = (ctx: RepoContext, what: string): Pick<RetryHooks, 'onRetry' | 'signal'> => ({
  onRetry: (e) => ctx.http.transport.log(retryLine(what, e)),
  signal: ctx.http.signal,
})

/** The check after a lost answer: one HEAD, not retried; a failed check counts as "not there". */
const blobLanded = (ctx: RepoContext, desc: Descriptor) =>
  hasBlob(ctx, desc, singleTry(ctx.http.policy)).catch(() => false)

/** Small blobs: the whole body is in memory anyway, so a lost session is simply opened again. */
async function monolithic(ctx: RepoContext, desc: Descriptor, reader: BlobReader, what: string) {
  const data = await reader.read(desc.size)
  await reader.finish()
  await withRetry(
    ctx.http.policy,
    async (budget) => {
      try {
        const location = await startWhole(ctx, desc, data, what, budget)
        if (location) await commit(ctx, location, desc, data, what, budget)
      } catch (err) {
        if (mayHaveApplied(err) && (await blobLanded(ctx, desc))) return
        throw err
      }
    },
    {
      classify: (err) =>
        mayHaveApplied(err)
          ? { reason: `${describe(err)}, answer lost and blob absent, new session` }
          : undefined,
      ...logged(ctx, `upload ${what}`),
    },
  )
}

/** The registry dropped the session (or holds bytes ferry cannot account for): only a new one can finish. */
class SessionLost extends Error {}

/** What a chunked upload carries from segment to segment: one retry budget for the whole blob. */
interface Upload {
  ctx: RepoContext
  reader: BlobReader
  what: string
  reopen: BlobPushOptions['reopen']
  budget: Backoff
}

const inPlace = (err: unknown) =>
  (err instanceof RegistryError && statusProvesNotApplied(err.status)) ||
  (err instanceof NetworkError && err.transient && !err.sent)

/**
 * PATCHes the next `length` bytes of `reader`. With `reopen` the bytes stream straight from the source;
 * when the connection dies the registry is asked how much it kept, the source is read again from the
 * segment start (re-hashing what the registry holds) and the PATCH continues there. Without `reopen` the
 * segment is read into memory first so it can be sent again. A 429 or 503 proves the registry did not
 * act: the same PATCH goes again after its `Retry-After`. Returns the session URL.
 */
async function sendSegment(up: Upload, location: URL, length: number): Promise<URL> {
  const { ctx, reader, what, reopen } = up
  const mark: Mark = reader.mark()
  const end = mark.position + length
  const buffered = reopen ? undefined : await reader.read(length)
  if (reader.short) await reader.finish() // a short source is refused before its last bytes are sent
  let url = location
  let start = mark.position
  // The last PATCH's answer was lost: the registry is asked what it holds before anything is sent again.
  let lost = false
  const resync = async (budget: Backoff) => {
    const status = await uploadStatus(ctx, url, what, budget)
    if (!status && mark.position === 0) {
      // A session dropped before it held anything of ours: a new one loses nothing.
      url = await startUpload(ctx, what, budget)
      start = 0
    } else if (!status || status.held < mark.position || status.held > end) {
      if (reopen) throw new SessionLost()
      throw new FerryError(
        'NETWORK',
        `${what}: upload session lost after ${mark.position} bytes (registry holds ${status?.held ?? 'none'}) and the source cannot be read again; push the blob again`,
      )
    } else {
      ctx.http.transport.log(`PATCH ${what}: registry holds ${status.held} bytes, continuing from there`)
      url = status.location
      start = status.held
      budget.reached(start)
    }
    lost = false
  }
  return withRetry(
    up.budget,
    async (budget) => {
      if (lost) await resync(budget)
      if (!buffered && reader.position !== start) {
        await reader.rewind(mark, await reopen!(mark.position), start)
      }
      try {
        const res = await ctx.http.request({
          registry: ctx.registry,
          method: 'PATCH',
          url,
          headers: {
            'content-type': OCTETS,
            'content-range': `${start}-${end - 1}`,
            'content-length': String(end - start),
          },
          body: buffered ? buffered.subarray(start - mark.position) : reader.segment(end - start),
          scopes: pushScope(ctx.repository),
          subject: what,
          expect: [202, 204],
          budget,
        })
        await discard(res)
        const held = heldBytes(res) ?? end
        if (held !== end) {
          throw new FerryError(
            'REGISTRY',
            `${what}: registry holds ${held} bytes after a chunk ending at ${end}`,
          )
        }
        budget.reached(end)
        return locationOf(res, what)
      } catch (err) {
        if (reader.short) await reader.finish() // throws the size error that explains the failed request
        if (reader.sourceError !== undefined) throw reader.sourceError
        lost = !inPlace(err) && mayHaveApplied(err)
        throw err
      }
    },
    {
      classify: (err) => {
        if (reader.sourceError !== undefined && err === reader.sourceError) return undefined
        if (inPlace(err)) {
          const retryAfterMs = err instanceof RegistryError ? err.retryAfterMs : undefined
          return { reason: `${describe(err)} at ${start}, sending it again`, retryAfterMs }
        }
        return lost && mayHaveApplied(err)
          ? { reason: `${describe(err)} at ${start}, asking the registry for its offset` }
          : undefined
      },
      ...logged(ctx, `PATCH ${what}`),
    },
  )
}

// The content itself is wrong: no later run can finish this session, so it is not kept.
const contentError = (err: unknown) =>
  err instanceof FerryError && (err.code === 'SIZE_INVALID' || err.code === 'DIGEST_MISMATCH')

/**
 * The closing PUT of a chunked upload. One whose answer was lost may have committed: the blob is looked
 * for (HEAD), and when absent the session is asked whether it still holds every byte before the PUT is
 * sent again.
 */
async function finish(up: Upload, desc: Descriptor, session: URL): Promise<void> {
  const { ctx, what } = up
  let location = session
  let lost: unknown
  let gone = false
  await withRetry(
    up.budget,
    async (budget) => {
      if (lost !== undefined) {
        const status = await uploadStatus(ctx, location, what, budget)
        if (!status || status.held !== desc.size) {
          gone = true
          throw lost
        }
        location = status.location
        lost = undefined
      }
      try {
        await commit(ctx, location, desc, Buffer.alloc(0), what, budget)
      } catch (err) {
        if (mayHaveApplied(err)) {
          if (await blobLanded(ctx, desc)) return
          lost = err
        }
        throw err
      }
    },
    {
      classify: (err) =>
        !gone && mayHaveApplied(err)
          ? { reason: `${describe(err)}, answer lost and blob absent` }
          : undefined,
      ...logged(ctx, `PUT ${what}`),
    },
  )
}

/**
 * PATCHes the rest of `reader` into the session, chunk by chunk from `reader.position`, then commits.
 * A session the registry lost mid-way is replaced by a new one from byte 0, the source read again
 * whole (and verified again) through `reopen`.
 */
async function sendRest(
  ctx: RepoContext,
  desc: Descriptor,
  reader: BlobReader,
  session: URL,
  what: string,
  opts: BlobPushOptions,
) {
  let location = session
  const report = (offset: number) => opts.onSession?.({ location: location.toString(), offset })
  const up: Upload = { ctx, reader, what, reopen: opts.reopen, budget: new Backoff(ctx.http.policy) }
  try {
    while (reader.position < desc.size) {
      const length = Math.min(ctx.chunkSize, desc.size - reader.position)
      try {
        location = await sendSegment(up, location, length)
      } catch (err) {
        if (!(err instanceof SessionLost)) throw err
        ctx.http.transport.log(
          `PATCH ${what}: the registry lost the upload session, starting a new one from byte 0`,
        )
        location = await startUpload(ctx, what, up.budget)
        await reader.restart(await opts.reopen!(0))
      }
      report(reader.position)
    }
    await reader.finish()
  } catch (err) {
    // The source failed or lied about its size: drop the half-made session rather than let it linger.
    // A session someone keeps for a later run stays, unless what it holds can never be completed.
    if (!opts.onSession || contentError(err)) await cancelUpload(ctx, location, what)
    throw err
  }
  await finish(up, desc, location)
}

export async function pushBlob(
  ctx: RepoContext,
  desc: Descriptor,
  body: Readable,
  opts: BlobPushOptions = {},
): Promise<void> {
  const what = `${ctx.name}@${desc.digest}`
  await withReader(body, desc, what, 0, async (reader) => {
    if (desc.size <= wholeUploadMax(ctx)) return monolithic(ctx, desc, reader, what)
    const location = await startUpload(ctx, what)
    opts.onSession?.({ location: location.toString(), offset: 0 })
    await sendRest(ctx, desc, reader, location, what, opts)
  })
}

/** Hands `send` a reader over `body` (bytes from `start` on); when `send` fails, the source is stopped too. */
async function withReader(
  body: Readable,
  desc: Descriptor,
  what: string,
  start: number,
  send: (reader: BlobReader) => Promise<void>,
): Promise<void> {
  const reader = new BlobReader(body, desc, `blob ${what}`, start)
  try {
    await send(reader)
  } catch (err) {
    await reader.cancel().catch(() => {})
    body.destroy()
    throw err
  }
}

/** The session at `location` as the registry sees it now, or undefined when it no longer has it. */
export async function resumeOffset(
  ctx: RepoContext,
  desc: Descriptor,
  location: string,
): Promise<UploadSession | undefined> {
  const status = await uploadStatus(ctx, new URL(location), `${ctx.name}@${desc.digest}`)
  return status && { location: status.location.toString(), offset: status.held }
}

/**
 * Continues a session a previous run left at `offset` with `body` = bytes [offset, size). ferry cannot
 * hash the bytes the registry already holds, so it checks only that it sends exactly size − offset
 * bytes; the digest of the whole is the registry's to verify at the final PUT (the spec requires it),
 * and its DIGEST_INVALID becomes DIGEST_MISMATCH here.
 */
export async function pushBlobFrom(
  ctx: RepoContext,
  desc: Descriptor,
  location: string,
  offset: number,
  body: Readable,
  opts: BlobPushOptions = {},
): Promise<void> {
  const what = `${ctx.name}@${desc.digest}`
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > desc.size) {
    body.destroy()
    throw new FerryError('USAGE', `${what}: cannot resume an upload at byte ${offset} of ${desc.size}`)
  }
  await withReader(body, desc, what, offset, (reader) =>
    sendRest(ctx, desc, reader, new URL(location), what, opts),
  )
}
