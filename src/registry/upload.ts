import type { Readable } from 'node:stream'
import type { BlobPushOptions, UploadSession } from '../content/target.js'
import { FerryError } from '../errors.js'
import type { Descriptor } from '../oci/schemas.js'
import { hasBlob } from './blobs.js'
import { type Chunk, type ChunkReader, chunkFrom, readChunks } from './chunk-reader.js'
import { pushScope, type RepoContext, v2Url } from './context.js'
import { RegistryError } from './errors.js'
import { discard } from './http.js'
import { mayHaveApplied } from './network-error.js'
import { Backoff, sleep } from './retry.js'
import { header, type RawResponse } from './transport.js'

/**
 * Blob uploads (distribution spec, "Pushing blobs"): POST opens a session, PATCH appends chunks with
 * `Content-Range`, PUT `?digest=` commits. A PATCH or PUT whose answer was lost is never repeated
 * blindly: the registry is asked what it holds (GET on the session for its `Range`, HEAD on the blob)
 * and the upload continues from there.
 *
 * A session outlives the process: `onSession` hands its URL and offset to whoever keeps them, and
 * `pushBlobFrom` continues it in a later run. distribution 2.8 purges sessions after 168h and signs
 * the offset into the URL's `_state`: only the latest Location works, an older one answers 404.
 */

const OCTETS = 'application/octet-stream'

function locationOf(res: RawResponse, what: string): URL {
  const loc = header(res, 'location')
  if (!loc) throw new FerryError('REGISTRY', `${what}: upload response without Location (HTTP ${res.status})`)
  return new URL(loc, res.url)
}

/** `Range: 0-N` → the registry holds N+1 bytes (distribution sends `0--1` for an empty session). */
function heldBytes(res: RawResponse): number | undefined {
  const m = /^(?:bytes=)?0-(-?\d+)$/.exec(header(res, 'range')?.trim() ?? '')
  return m ? Number(m[1]) + 1 : undefined
}

async function startUpload(ctx: RepoContext, what: string): Promise<URL> {
  const res = await ctx.http.request({
    registry: ctx.registry,
    method: 'POST',
    url: v2Url(ctx, 'blobs/uploads/'),
    scopes: pushScope(ctx.repository),
    subject: what,
    expect: [202],
    // Repeating a POST only opens another session; the lost one expires on its own.
    idempotent: true,
  })
  await discard(res)
  return locationOf(res, what)
}

async function uploadStatus(ctx: RepoContext, location: URL, what: string) {
  const res = await ctx.http.request({
    registry: ctx.registry,
    method: 'GET',
    url: location,
    scopes: pushScope(ctx.repository),
    subject: what,
    // distribution answers 404 for a session it dropped; others 400 or 416. Either way it is gone.
    expect: [200, 204, 400, 404, 416],
  })
  await discard(res)
  const held = heldBytes(res)
  if (res.status >= 400 || held === undefined) return undefined
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
function digestRefused(err: unknown, what: string): unknown {
  if (!(err instanceof RegistryError && err.registryCodes.includes('DIGEST_INVALID'))) return err
  return new FerryError(
    'DIGEST_MISMATCH',
    `${what}: the uploaded content does not hash to the blob digest (DIGEST_INVALID, HTTP ${err.status})`,
  )
}

async function commit(ctx: RepoContext, location: URL, desc: Descriptor, body: Chunk, what: string) {
  const url = new URL(location)
  url.searchParams.set('digest', desc.digest)
  const res = await ctx.http
    .request({
      registry: ctx.registry,
      method: 'PUT',
      url,
      headers: { 'content-type': OCTETS, 'content-length': String(body.length) },
      body: body.parts,
      scopes: pushScope(ctx.repository),
      subject: what,
      expect: [201, 204],
    })
    .catch((err: unknown) => Promise.reject(digestRefused(err, what)))
  await discard(res)
}

async function pause(ctx: RepoContext, backoff: Backoff, err: unknown, why: string): Promise<void> {
  const delay = backoff.next()
  if (delay === undefined) throw err
  ctx.http.transport.log(`${why}; try ${backoff.attempt} in ${Math.round(delay)} ms`)
  await sleep(delay)
}

/** Small blobs: the whole body is in memory anyway, so a lost session is simply opened again. */
async function monolithic(ctx: RepoContext, desc: Descriptor, reader: ChunkReader, what: string) {
  const data = await reader.read(desc.size)
  await reader.finish()
  const backoff = new Backoff(ctx.http.policy)
  for (;;) {
    const location = await startUpload(ctx, what)
    try {
      return await commit(ctx, location, desc, data, what)
    } catch (err) {
      if (!mayHaveApplied(err)) throw err
      if (await hasBlob(ctx, desc)) return
      await pause(ctx, backoff, err, `PUT ${what}: answer lost and blob absent, new session`)
    }
  }
}

/** Sends one chunk from `chunkStart`; returns the session URL to use next. */
async function sendChunk(ctx: RepoContext, location: URL, chunk: Chunk, chunkStart: number, what: string) {
  const end = chunkStart + chunk.length
  const backoff = new Backoff(ctx.http.policy)
  let start = chunkStart
  let url = location
  while (start < end) {
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
        body: chunkFrom(chunk, start - chunkStart),
        scopes: pushScope(ctx.repository),
        subject: what,
        expect: [202, 204],
      })
      await discard(res)
      url = locationOf(res, what)
      start = heldBytes(res) ?? end
      if (start < chunkStart || start > end) {
        throw new FerryError(
          'REGISTRY',
          `${what}: registry reports ${start} bytes after a chunk ending at ${end}`,
        )
      }
    } catch (err) {
      if (!mayHaveApplied(err)) throw err
      await pause(
        ctx,
        backoff,
        err,
        `PATCH ${what} at ${start}: answer lost, asking the registry for its offset`,
      )
      const status = await uploadStatus(ctx, url, what)
      if (!status && chunkStart === 0) {
        // Nothing beyond this chunk was read from the source yet: a fresh session loses nothing.
        url = await startUpload(ctx, what)
        start = 0
        continue
      }
      if (!status || status.held < chunkStart || status.held > end) {
        throw new FerryError(
          'NETWORK',
          `${what}: upload session lost after ${chunkStart} bytes (registry holds ${status?.held ?? 'none'}); push the blob again`,
        )
      }
      ctx.http.transport.log(`PATCH ${what}: registry holds ${status.held} bytes, continuing from there`)
      url = status.location
      start = status.held
    }
  }
  return url
}

// The content itself is wrong: no later run can finish this session, so it is not kept.
const contentError = (err: unknown) =>
  err instanceof FerryError && (err.code === 'SIZE_INVALID' || err.code === 'DIGEST_MISMATCH')

/** PATCHes the rest of `reader` into the session, chunk by chunk from `reader.position`, then commits. */
async function sendRest(
  ctx: RepoContext,
  desc: Descriptor,
  reader: ChunkReader,
  session: URL,
  what: string,
  opts: BlobPushOptions,
) {
  let location = session
  const report = (offset: number) => opts.onSession?.({ location: location.toString(), offset })
  try {
    for (;;) {
      const start = reader.position
      const chunk = await reader.read(ctx.chunkSize)
      if (chunk.length === 0) break
      location = await sendChunk(ctx, location, chunk, start, what)
      report(start + chunk.length)
    }
    await reader.finish()
  } catch (err) {
    // The source failed or lied about its size: drop the half-made session rather than let it linger.
    // A session someone keeps for a later run stays, unless what it holds can never be completed.
    if (!opts.onSession || contentError(err)) await cancelUpload(ctx, location, what)
    throw err
  }
  const backoff = new Backoff(ctx.http.policy)
  for (;;) {
    try {
      return await commit(ctx, location, desc, { parts: [], length: 0 }, what)
    } catch (err) {
      if (!mayHaveApplied(err)) throw err
      if (await hasBlob(ctx, desc)) return
      await pause(ctx, backoff, err, `PUT ${what}: answer lost and blob absent`)
      const status = await uploadStatus(ctx, location, what)
      if (!status || status.held !== desc.size) throw err
      location = status.location
    }
  }
}

export async function pushBlob(
  ctx: RepoContext,
  desc: Descriptor,
  body: Readable,
  opts: BlobPushOptions = {},
): Promise<void> {
  const what = `${ctx.name}@${desc.digest}`
  await readChunks(body, desc, what, 0, async (reader) => {
    if (desc.size <= ctx.chunkSize) return monolithic(ctx, desc, reader, what)
    const location = await startUpload(ctx, what)
    opts.onSession?.({ location: location.toString(), offset: 0 })
    await sendRest(ctx, desc, reader, location, what, opts)
  })
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
  await readChunks(body, desc, what, offset, (reader) =>
    sendRest(ctx, desc, reader, new URL(location), what, opts),
  )
}
