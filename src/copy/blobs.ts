import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { canMount, type Target } from '../content/target.js'
import type { Descriptor } from '../oci/schemas.js'
import { forEachLimited, type Limiter } from '../util/limit.js'
import type { BlobOutcome, CopyEventSink } from './events.js'

export interface BlobTally {
  copied: number
  skipped: number
  mounted: number
  bytes: number
}

/**
 * Moves the blobs the destination lacks, largest first so the longest transfer starts first.
 * Each blob streams source → destination with backpressure; the source stream verifies size and
 * digest as it flows and the destination only commits verified content.
 */
export async function transferBlobs(
  source: Target,
  destination: Target,
  blobs: Iterable<Descriptor>,
  limit: Limiter,
  image: string,
  emit: CopyEventSink,
): Promise<BlobTally> {
  const tally: BlobTally = { copied: 0, skipped: 0, mounted: 0, bytes: 0 }
  const ordered = [...blobs].sort((a, b) => b.size - a.size)
  await forEachLimited(ordered, limit, async (desc) => {
    const outcome = await transferBlob(source, destination, desc, (n) => {
      tally.bytes += n
      emit({ type: 'blob-progress', image, digest: desc.digest, bytes: n })
    })
    tally[outcome]++
    emit({ type: 'blob-done', image, digest: desc.digest, size: desc.size, outcome })
  })
  return tally
}

async function transferBlob(
  source: Target,
  destination: Target,
  desc: Descriptor,
  progress: (bytes: number) => void,
): Promise<BlobOutcome> {
  if (await destination.hasBlob(desc)) return 'skipped'
  if (canMount(destination) && (await destination.mountBlob(desc, source))) return 'mounted'
  const body = await source.fetchBlob(desc)
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      progress(chunk.byteLength)
      cb(null, chunk)
    },
  })
  // pipeline carries a source failure (cut connection, digest mismatch) into the destination's stream,
  // so the destination aborts the upload instead of committing a short blob.
  const flowing = pipeline(body, counter)
  const pushed = destination.pushBlob(desc, counter).catch((err: unknown) => {
    // A destination that gave up must not leave the source connection open and paused.
    counter.destroy(err instanceof Error ? err : new Error(String(err)))
    throw err
  })
  await Promise.all([pushed, flowing])
  return 'copied'
}
