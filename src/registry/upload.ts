import type { Readable } from 'node:stream'
import { FerryError } from '../errors.js'
import type { Descriptor } from '../oci/schemas.js'
import { hasBlob } from './blobs.js'
import { type Chunk, ChunkReader, chunkFrom } from './chunk-reader.js'
import { pushScope, type RepoContext, v2Url } from './context.js'
import { discard } from './http.js'
import { mayHaveApplied } from './network-error.js'
import { Backoff, sleep } from './retry.js'
import { header, type RawResponse } from './transport.js'

/**
 * Blob uploads (distribution spec, "Pushing blobs"): POST opens a session, PATCH appends chunks with
 * `Content-Range`, PUT `?digest=` commits. A PATCH or PUT whose answer was lost is never repeated
 * blindly: the registry is asked what it holds (GET on the session for its `Range`, HEAD on the blob)
 * and the upload continues from there.
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

async function commit(ctx: RepoContext, location: URL, desc: Descriptor, body: Chunk, what: string) {
  const url = new URL(location)
  url.searchParams.set('digest', desc.digest)
  const res = await ctx.http.request({
    registry: ctx.registry,
    method: 'PUT',
    url,
    headers: { 'content-type': OCTETS, 'content-length': String(body.length) },
    body: body.parts,
    scopes: pushScope(ctx.repository),
    subject: what,
    expect: [201, 204],
  })
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

async function chunked(ctx: RepoContext, desc: Descriptor, reader: ChunkReader, what: string) {
  let location = await startUpload(ctx, what)
  try {
    for (;;) {
      const start = reader.position
      const chunk = await reader.read(ctx.chunkSize)
      if (chunk.length === 0) break
      location = await sendChunk(ctx, location, chunk, start, what)
    }
    await reader.finish()
  } catch (err) {
    // The source failed or lied about its size: drop the half-made session rather than let it linger.
    await cancelUpload(ctx, location, what)
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

export async function pushBlob(ctx: RepoContext, desc: Descriptor, body: Readable): Promise<void> {
  const what = `${ctx.name}@${desc.digest}`
  const reader = new ChunkReader(body, desc, `blob ${what}`)
  try {
    if (desc.size <= ctx.chunkSize) await monolithic(ctx, desc, reader, what)
    else await chunked(ctx, desc, reader, what)
  } catch (err) {
    await reader.cancel().catch(() => {})
    body.destroy()
    throw err
  }
}
