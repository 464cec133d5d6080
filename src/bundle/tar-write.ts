import type { Readable } from 'node:stream'
import tar from 'tar-stream'
import type { ReadOnlyTarget } from '../content/target.js'
import { parseDigest } from '../oci/digest.js'
import type { Descriptor } from '../oci/schemas.js'
import { ignoreProgress, type ProgressSink } from '../progress.js'
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
  /** Each blob's bytes as they are written, and each blob once written (phase `bundle-write`). */
  progress?: ProgressSink
  /** What the events name: the bundle file. */
  subject?: string
}

type EntryHeader = Partial<tar.Header> & { name: string }

export const blobPath = (digest: string): string => {
  const { algorithm, hex } = parseDigest(digest)
  return `blobs/${algorithm}/${hex}`
}

/**
 * One tar entry: bytes in hand, or a stream opened when its turn comes (`open`). A stream must deliver
 * exactly `size` bytes and fail (error event) when its content is not what it promised: the writer
 * only counts, it does not verify.
 */
export interface TarEntrySource {
  name: string
  size: number
  bytes?: Uint8Array
  open?: () => Promise<Readable>
  /** A blob's digest: its bytes and its end are reported as progress. */
  digest?: string
}

/**
 * Writes the tar in the order given. Headers carry nothing from the host (fixed mtime, uid/gid 0, mode
 * 0644, no user or group names), so equal content gives equal bytes. Each streamed entry flows into its
 * entry with backpressure (a failing stream fails the whole write); the next entry's stream is opened
 * while the current one flows.
 */
export async function writeTar(
  entries: readonly TarEntrySource[],
  out: Pick<BundleOutput, 'write'>,
  opts: WriteTarOptions,
): Promise<void> {
  const progress = opts.progress ?? ignoreProgress
  const subject = opts.subject ?? ''
  const advanced = (entry: TarEntrySource, done: number) => {
    if (entry.digest) progress({ type: 'advance', phase: 'bundle-write', subject, done, item: entry.digest })
  }
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

  const open = (e: TarEntrySource | undefined): Promise<Readable | undefined> | undefined =>
    e === undefined ? undefined : e.bytes ? Promise.resolve(undefined) : e.open!()
  let next: Promise<Readable | undefined> | undefined
  try {
    next = open(entries[0])
    for (const [i, entry] of entries.entries()) {
      const body = await next!
      next = open(entries[i + 1])
      next?.catch(() => {}) // awaited on the next turn; a failure there is reported then
      const h = header(entry.name, entry.size)
      if (body) await addStream(pack, h, body, (n) => advanced(entry, n))
      else {
        await addBuffer(pack, h, entry.bytes!)
        advanced(entry, entry.bytes!.byteLength)
      }
      if (entry.digest) {
        const { digest, size } = entry
        progress({
          type: 'item',
          phase: 'bundle-write',
          subject,
          kind: 'blob',
          digest,
          size,
          outcome: 'copied',
        })
      }
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

/** A bundle: `files` (bytes in hand) then `blobs` under `blobs/ALG/HEX`, each streamed from its source. */
export async function writeBundleTar(
  files: readonly TarFile[],
  blobs: readonly TarBlob[],
  out: BundleOutput,
  opts: WriteTarOptions,
): Promise<void> {
  const entries: TarEntrySource[] = [
    ...files.map((f) => ({ name: f.name, size: f.bytes.byteLength, bytes: f.bytes })),
    ...blobs.map((b) => ({
      name: blobPath(b.desc.digest),
      size: b.desc.size,
      ...(b.bytes ? { bytes: b.bytes } : { open: () => b.source!.fetchBlob(b.desc) }),
      digest: b.desc.digest,
    })),
  ]
  await writeTar(entries, out, opts)
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
