import { type Digest, isDigest } from '../oci/digest.js'
import { isRepositoryName } from '../reference/grammar.js'
import { type Call, type RouteOf, type ServeContext, writableLayout } from './context.js'
import { streamWholeBlob, wholeBlobLength } from './direct.js'
import { ApiError } from './errors.js'
import { drain, type Req, sendEmpty } from './http.js'
import { checkDigest } from './routes.js'
import type { UploadSession, UploadStore } from './uploads.js'
import { asWrite } from './write-gate.js'

// The push flow of distribution-spec "Pushing blobs": POST opens (or, with ?digest=, is) an upload,
// PATCH appends chunks, GET reports progress, PUT ?digest= closes it, DELETE cancels it.

const blobLocation = (name: string, digest: string) => `/v2/${name}/blobs/${digest}`

function sessionHeaders(s: UploadSession): Record<string, string> {
  return {
    Location: `/v2/${s.name}/blobs/uploads/${s.id}`,
    'Docker-Upload-UUID': s.id,
    'Blob-Upload-Session-ID': s.id,
    // Inclusive end; an empty upload reads `0-0`, as distribution answers.
    Range: `0-${Math.max(0, s.offset - 1)}`,
  }
}

/** The client sessions are counted against: the remote address (behind a proxy, the proxy's). */
function clientOf(req: Req): string {
  return req.socket.remoteAddress ?? 'unknown'
}

function storeOf(ctx: ServeContext): UploadStore {
  // Write routes never reach here when read-only; this guards the invariant.
  if (!ctx.uploads) throw new ApiError('UNSUPPORTED', 'this registry is read-only')
  return ctx.uploads
}

/**
 * The length a Content-Range announces, after checking it continues the upload where it stands
 * (spec: chunks in order, else 416 with the current Range). Absent header: a streamed chunk, any length.
 */
function chunkLength(header: string | undefined, s: UploadSession): number | undefined {
  if (header === undefined) return undefined
  const m = /^(?:bytes[= ])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim())
  const start = Number(m?.[1])
  const end = Number(m?.[2])
  if (!m || end < start || start !== s.offset) {
    // spec "Pushing a blob in chunks": out of order is 416; the code list has no range code of its own.
    throw new ApiError(
      'BLOB_UPLOAD_INVALID',
      `upload ${s.id}: Content-Range ${header.slice(0, 100)} does not continue at offset ${s.offset}`,
      { status: 416, headers: sessionHeaders(s) },
    )
  }
  return end - start + 1
}

/**
 * Makes the verified upload a blob of the layout. The session hashed every chunk as it arrived, so the
 * file is renamed into the blob store, not read again; an upload of a blob already there is dropped.
 */
async function commit(ctx: ServeContext, s: UploadSession, digest: Digest): Promise<void> {
  await storeOf(ctx).verify(s, digest)
  await writableLayout(ctx).adoptBlob(s.path, { digest, size: s.offset })
  ctx.members.addBlob(s.name, digest)
}

async function streamInto(ctx: ServeContext, name: string, req: Req, digest: Digest, size: number) {
  await streamWholeBlob(ctx, name, req, digest, size)
  ctx.members.addBlob(name, digest)
}

export async function startUpload({ ctx, req, res, route, query }: Call<RouteOf<'uploads'>>): Promise<void> {
  const uploads = storeOf(ctx)
  const mount = query.get('mount')
  const from = query.get('from')
  // Cross-repository mount: the blob must belong to `from`; without `from` (which the spec lets a
  // registry treat as optional) any blob of the root is found. Bad arguments or a blob not found fall
  // back to a plain upload, as the spec asks.
  if (mount !== null && isDigest(mount) && (from === null || isRepositoryName(from))) {
    // Found and linked with no collection in between: the client relies on the blob from here on.
    const mounted = await asWrite(ctx.gate, async () => {
      const found =
        from === null ? await writableLayout(ctx).hasBlob(mount) : await ctx.members.hasBlob(from, mount)
      if (!(found && (await writableLayout(ctx).hasBlob(mount)))) return false
      ctx.members.addBlob(route.name, mount)
      return true
    })
    if (mounted) {
      await drain(req)
      sendEmpty(res, 201, { Location: blobLocation(route.name, mount), 'Docker-Content-Digest': mount })
      return
    }
  }
  const digestParam = query.get('digest')
  if (digestParam !== null && mount === null) {
    // Single-POST monolithic upload.
    const digest = checkDigest(digestParam)
    const length = await wholeBlobLength(ctx, req, digest, 0)
    if (length !== undefined) {
      await streamInto(ctx, route.name, req, digest, length)
      sendEmpty(res, 201, { Location: blobLocation(route.name, digest), 'Docker-Content-Digest': digest })
      return
    }
    const session = await uploads.create(route.name, clientOf(req))
    uploads.acquire(session)
    try {
      await uploads.append(session, req)
      await commit(ctx, session, digest)
    } finally {
      await uploads.remove(session)
    }
    sendEmpty(res, 201, { Location: blobLocation(route.name, digest), 'Docker-Content-Digest': digest })
    return
  }
  await drain(req)
  const session = await uploads.create(route.name, clientOf(req))
  sendEmpty(res, 202, sessionHeaders(session))
}

export async function patchUpload({ ctx, req, res, route }: Call<RouteOf<'upload'>>): Promise<void> {
  const uploads = storeOf(ctx)
  const session = uploads.get(route.name, route.id)
  uploads.acquire(session)
  try {
    const length = chunkLength(req.headers['content-range'], session)
    await uploads.append(session, req, length)
  } finally {
    uploads.release(session)
  }
  sendEmpty(res, 202, sessionHeaders(session))
}

export async function uploadStatus({ ctx, res, route }: Call<RouteOf<'upload'>>): Promise<void> {
  if (!ctx.uploads) throw new ApiError('BLOB_UPLOAD_UNKNOWN', `upload ${route.id} is unknown`)
  sendEmpty(res, 204, sessionHeaders(ctx.uploads.get(route.name, route.id)))
}

export async function finishUpload({ ctx, req, res, route, query }: Call<RouteOf<'upload'>>): Promise<void> {
  const uploads = storeOf(ctx)
  const session = uploads.get(route.name, route.id)
  const digestParam = query.get('digest')
  if (digestParam === null) {
    throw new ApiError('DIGEST_INVALID', `upload ${route.id}: PUT needs ?digest= to close the upload`)
  }
  const digest = checkDigest(digestParam)
  uploads.acquire(session)
  try {
    const whole = await wholeBlobLength(ctx, req, digest, session.offset)
    if (whole !== undefined) await streamInto(ctx, route.name, req, digest, whole)
    else {
      await uploads.append(session, req, chunkLength(req.headers['content-range'], session))
      await commit(ctx, session, digest)
    }
  } catch (err) {
    // Any 4xx but 416 ends the upload for the client (spec "Errors"); keep the session only for a 416.
    if (err instanceof ApiError && err.status === 416) {
      uploads.release(session)
      throw err
    }
    await uploads.remove(session)
    throw err
  }
  await uploads.remove(session)
  sendEmpty(res, 201, { Location: blobLocation(route.name, digest), 'Docker-Content-Digest': digest })
}

export async function cancelUpload({ ctx, res, route }: Call<RouteOf<'upload'>>): Promise<void> {
  const uploads = storeOf(ctx)
  await uploads.remove(uploads.get(route.name, route.id))
  sendEmpty(res, 204)
}
