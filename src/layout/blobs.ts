import { mkdir, open, rename, rm, stat, utimes } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { pipeline as pipelineCb, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { FerryError } from '../errors.js'
import { type Digest, parseDigest, verifyingStream } from '../oci/digest.js'
import { MAX_MANIFEST_BYTES } from '../oci/manifest.js'
import { Batches, fileSink, READ_BYTES } from '../util/batches.js'
import { errno, fsyncDir, siblingTemp } from '../util/files.js'

/**
 * Blob files of a layout. Content is streamed into `ingest/` (outside `blobs/`, so nothing walking the
 * blob store ever meets a partial file), verified as it flows, synced, and only then renamed into
 * `blobs/ALG/HEX`. Rename is atomic and the content is fixed by its digest, so two writers of the same
 * blob both succeed and the last rename simply replaces identical bytes.
 */
export const INGEST_DIR = 'ingest'

export interface BlobRef {
  digest: string
  size?: number
}

/** Size of the file, or undefined when absent. Anything but a regular file counts as absent. */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const st = await stat(path)
    return st.isFile() ? st.size : undefined
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return undefined
    throw err
  }
}

/**
 * Marks a blob as just written: a writer that finds its blob present and relies on it (a manifest will
 * name it next) makes it young again, so a garbage collection (gc.ts) keeps it for its grace period. False
 * when the file is gone (a collection removed it since the caller looked): the caller writes it again.
 * A file this process may not touch (another owner, a read-only mount) is left as it is.
 */
export async function freshen(path: string): Promise<boolean> {
  const now = new Date()
  try {
    await utimes(path, now, now)
    return true
  } catch (err) {
    if (errno(err) === 'ENOENT') return false
    if (['EPERM', 'EACCES', 'EROFS'].includes(errno(err) ?? '')) return true
    throw err
  }
}

export async function writeBlob(
  layoutDir: string,
  path: string,
  blob: BlobRef,
  body: Readable,
  subject: string,
): Promise<void> {
  const { algorithm, hex } = parseDigest(blob.digest)
  const present = await fileSize(path)
  if (present !== undefined && (blob.size === undefined || present === blob.size) && (await freshen(path))) {
    // Content addressed: what is there is what would be written. Stop the producer (a download, say).
    body.destroy()
    return
  }
  const ingest = join(layoutDir, INGEST_DIR)
  await mkdir(ingest, { recursive: true })
  const temp = siblingTemp(join(ingest, `${algorithm}-${hex}`), 'partial')
  const handle = await open(temp, 'wx')
  // Leaving the loop on a failed write aborts the source, and pipeline may report that AbortError
  // instead of the write's own error (ENOSPC): keep the write's.
  let writeFailure: unknown
  try {
    await pipeline(body, verifyingStream({ ...blob, subject }), async (source: AsyncIterable<Buffer>) => {
      const writes = new Batches(fileSink(handle))
      const kept = (err: unknown) => {
        writeFailure = err
        throw err
      }
      try {
        for await (const chunk of source) await writes.add(chunk).catch(kept)
        await writes.flush().catch(kept)
      } finally {
        await writes.discard()
      }
    })
    await handle.sync()
    await handle.close()
    await mkdir(dirname(path), { recursive: true })
    await rename(temp, path)
  } catch (err) {
    await handle.close().catch(() => {})
    await rm(temp, { force: true })
    throw writeFailure ?? err
  }
  await fsyncDir(dirname(path))
}

/** The blob as a stream that fails (error event, never a clean end) if the file is not what `blob` says. */
export async function readBlob(path: string, blob: BlobRef, subject: string): Promise<Readable> {
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(path, 'r')
  } catch (err) {
    if (errno(err) === 'ENOENT') throw new FerryError('NOT_FOUND', `${subject}: blob not found`)
    throw err
  }
  const verifier = verifyingStream({ ...blob, subject })
  // The callback form returns the last stream and tears the file down when the reader stops early.
  return pipelineCb(handle.createReadStream({ highWaterMark: READ_BYTES }), verifier, () => {})
}

/** A manifest's bytes, refusing files too large to be one before reading them into memory. */
export async function readManifestBytes(path: string, digest: Digest, subject: string): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(path, 'r')
  } catch (err) {
    if (errno(err) === 'ENOENT') throw new FerryError('NOT_FOUND', `${subject}: manifest ${digest} not found`)
    throw err
  }
  try {
    const { size } = await handle.stat()
    if (size > MAX_MANIFEST_BYTES) {
      throw new FerryError(
        'MANIFEST_TOO_LARGE',
        `${subject}: blob ${digest} is ${size} bytes, over the ${MAX_MANIFEST_BYTES}-byte manifest limit`,
      )
    }
    return await handle.readFile()
  } finally {
    await handle.close()
  }
}

/**
 * Moves a finished file into the blob store without copying it: for a writer that verified the
 * content as it arrived (an upload session hashing each chunk). The file must be on the layout's
 * filesystem; its size is checked, its bytes synced, and an existing blob is left as it is.
 */
export async function adoptBlob(path: string, file: string, blob: BlobRef & { size: number }): Promise<void> {
  const got = await fileSize(file)
  if (got !== blob.size) {
    throw new FerryError('SIZE_INVALID', `blob ${blob.digest}: file has ${got} bytes, expected ${blob.size}`)
  }
  if ((await fileSize(path)) === blob.size && (await freshen(path))) {
    await rm(file, { force: true })
    return
  }
  const handle = await open(file, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
  await mkdir(dirname(path), { recursive: true })
  // Its mtime is its last chunk's, maybe long ago: it counts as written now (see freshen).
  const now = new Date()
  await utimes(file, now, now)
  await rename(file, path)
  await fsyncDir(dirname(path))
}
