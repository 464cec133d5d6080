import type { Readable } from 'node:stream'
import tar from 'tar-stream'
import type { ReadOnlyTarget } from '../content/target.js'
import { parseDigest } from '../oci/digest.js'
import type { Descriptor } from '../oci/schemas.js'
import type { BundleOutput } from './output.js'

export interface TarFile {
  name: string
  bytes: Uint8Array
}

/** A blob entry: bytes in hand (manifests) or streamed from its source when its turn comes. */
export interface TarBlob {
  desc: Descriptor
  bytes?: Uint8Array
  source?: ReadOnlyTarget
}

export interface WriteTarOptions {
  /** Every entry's mtime: the bundle's `created`. */
  mtime: Date
  onProgress?: (desc: Descriptor, bytes: number) => void
  onBlobDone?: (desc: Descriptor) => void
}

type EntryHeader = Partial<tar.Header> & { name: string }

export const blobPath = (digest: string): string => {
  const { algorithm, hex } = parseDigest(digest)
  return `blobs/${algorithm}/${hex}`
}

/**
 * Writes the tar in the order given: `files` then `blobs`. Headers carry nothing from the host (fixed
 * mtime, uid/gid 0, mode 0644, no user or group names), so equal content gives equal bytes. Each blob
 * streams from its source into its entry with backpressure, verified by the source's own stream (a
 * wrong byte fails the whole write); the next blob's request is opened while the current one flows.
 */
export async function writeBundleTar(
  files: readonly TarFile[],
  blobs: readonly TarBlob[],
  out: BundleOutput,
  opts: WriteTarOptions,
): Promise<void> {
  const pack = tar.pack()
  const header = (name: string, size: number) => ({
    name,
    size,
    mtime: opts.mtime,
    mode: 0o644,
    uid: 0,
    gid: 0,
    type: 'file' as const,
  })
  const drained = (async () => {
    for await (const chunk of pack) await out.write(chunk as Buffer)
  })()
  // A failed write (disk full) must stop the producer, which may be waiting on backpressure.
  drained.catch((err: unknown) => pack.destroy(err as Error))

  const open = (b: TarBlob): Promise<Readable | undefined> =>
    b.bytes ? Promise.resolve(undefined) : b.source!.fetchBlob(b.desc)
  let next: Promise<Readable | undefined> | undefined
  try {
    for (const f of files) await addBuffer(pack, header(f.name, f.bytes.byteLength), f.bytes)
    next = blobs[0] ? open(blobs[0]) : undefined
    for (const [i, blob] of blobs.entries()) {
      const body = await next!
      next = blobs[i + 1] ? open(blobs[i + 1]!) : undefined
      next?.catch(() => {}) // awaited on the next turn; a failure there is reported then
      const h = header(blobPath(blob.desc.digest), blob.desc.size)
      if (body) await addStream(pack, h, body, (n) => opts.onProgress?.(blob.desc, n))
      else {
        await addBuffer(pack, h, blob.bytes!)
        opts.onProgress?.(blob.desc, blob.bytes!.byteLength)
      }
      opts.onBlobDone?.(blob.desc)
    }
    pack.finalize()
    await drained
  } catch (err) {
    next?.then((s) => s?.destroy()).catch(() => {})
    pack.destroy(err as Error)
    await drained.catch(() => {})
    throw err
  }
}

function addBuffer(pack: tar.Pack, header: EntryHeader, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), (err) =>
      err ? reject(err) : resolve(),
    )
  })
}

function addStream(
  pack: tar.Pack,
  header: EntryHeader,
  body: Readable,
  progress: (n: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let failed = false
    const fail = (err: Error) => {
      if (failed) return
      failed = true
      body.destroy()
      entry.destroy(err)
      reject(err)
    }
    const entry = pack.entry(header, (err) => (err ? fail(err) : resolve()))
    body.on('error', fail)
    body.on('data', (chunk: Buffer) => {
      progress(chunk.byteLength)
      if (!entry.write(chunk)) {
        body.pause()
        entry.once('drain', () => body.resume())
      }
    })
    body.on('end', () => entry.end(null))
  })
}
