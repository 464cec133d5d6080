import { Readable, Transform } from 'node:stream'
import {
  canMount,
  canReadFrom,
  canResumePush,
  type ResumableBlobPush,
  type UploadSession,
} from '../content/capabilities.js'
import type { OperationOptions, ReadOnlyTarget, Target } from '../content/target.js'
import { isFerryError } from '../errors.js'
import { type Logger, redact, silentLogger } from '../log.js'
import { ContentMismatch } from '../oci/digest.js'
import type { Descriptor } from '../oci/schemas.js'
import type { ProgressSink } from '../progress.js'
import { chain } from '../util/chain.js'
import { forEachLimited, type Limiter } from '../util/limit.js'
import { blame } from './copy-error.js'
import { type JournalEntry, sessionPath, type UploadJournal } from './upload-journal.js'

/** What became of one blob: its bytes moved, already there, or linked from another repository. */
type BlobOutcome = 'copied' | 'skipped' | 'mounted'

export interface BlobTally {
  copied: number
  skipped: number
  mounted: number
  bytes: number
}

export interface BlobTransferOptions extends OperationOptions {
  /** Keeps upload sessions across runs, for destinations that can resume them. */
  journal?: UploadJournal
  logger?: Logger
}

/**
 * Moves the blobs the destination lacks, largest first so the longest transfer starts first.
 * Each blob streams source → destination with backpressure; the source stream verifies size and
 * digest as it flows and the destination only commits verified content.
 */
export async function transferBlobs(
  source: ReadOnlyTarget,
  destination: Target,
  blobs: Iterable<Descriptor>,
  limit: Limiter,
  image: string,
  progress: ProgressSink,
  opts: BlobTransferOptions = {},
): Promise<BlobTally> {
  const tally: BlobTally = { copied: 0, skipped: 0, mounted: 0, bytes: 0 }
  const ordered = [...blobs].sort((a, b) => b.size - a.size)
  await forEachLimited(ordered, limit, async (desc) => {
    const outcome = await transferBlob(source, destination, desc, opts, (n) => {
      tally.bytes += n
      progress({ type: 'advance', phase: 'copy', subject: image, done: n, item: desc.digest })
    })
    tally[outcome]++
    progress({
      type: 'item',
      phase: 'copy',
      subject: image,
      kind: 'blob',
      digest: desc.digest,
      size: desc.size,
      outcome,
    })
  })
  return tally
}

type Progress = (bytes: number) => void

/**
 * The source's bytes from `offset` on, for a destination that hashes every byte it stores (every Target
 * verifies before content is visible, target.ts, and re-hashes what it re-reads after a lost
 * connection): size-checked only where the source can, so each byte is hashed once, not once by the
 * source and again by the destination (the largest CPU item of a big copy, bench/README.md).
 */
const readerOf =
  (source: ReadOnlyTarget, desc: Descriptor, op: OperationOptions) =>
  (offset: number): Promise<Readable> =>
    canReadFrom(source) ? source.fetchBlobFrom(desc, offset, op) : source.fetchBlob(desc, op)

/**
 * A destination's size or digest check failed on bytes it was handed straight from the source: the
 * source's content is wrong, and the copy says so (as the source's own check would have).
 */
function sourceContent(err: unknown, source: ReadOnlyTarget, desc: Descriptor): unknown {
  if (!(err instanceof ContentMismatch) || !canReadFrom(source)) return err
  const blamed = new ContentMismatch(err.code, `blob ${source.name}@${desc.digest}`, err.detail)
  return blame(blamed, 'source', 'fetchBlob')
}

async function transferBlob(
  source: ReadOnlyTarget,
  destination: Target,
  desc: Descriptor,
  opts: BlobTransferOptions,
  progress: Progress,
): Promise<BlobOutcome> {
  try {
    return await moveBlob(source, destination, desc, opts, progress)
  } catch (err) {
    throw sourceContent(err, source, desc)
  }
}

async function moveBlob(
  source: ReadOnlyTarget,
  destination: Target,
  desc: Descriptor,
  opts: BlobTransferOptions,
  progress: Progress,
): Promise<BlobOutcome> {
  const op: OperationOptions = { signal: opts.signal }
  if (await destination.hasBlob(desc, op)) return 'skipped'
  if (canMount(destination) && (await destination.mountBlob(desc, source, op))) return 'mounted'
  const read = readerOf(source, desc, op)
  const { journal } = opts
  // A connection lost mid-upload continues from the registry's offset when the source can be re-read
  // there; a session lost altogether starts over from byte 0 with a whole (verified) read.
  const reopen = canReadFrom(source) ? read : undefined
  if (!canResumePush(destination)) {
    await stream(await read(0), (body) => destination.pushBlob(desc, body, op), progress)
    return 'copied'
  }
  if (!journal) {
    await stream(await read(0), (body) => destination.pushBlob(desc, body, { ...op, reopen }), progress)
    return 'copied'
  }
  // Only large (chunked) uploads have sessions: the journal is written only for blobs that had one.
  const entry = await journal.get(destination.name, desc.digest)
  let kept = entry !== undefined
  const onSession = (s: UploadSession) => {
    kept = true
    journal.record(destination.name, desc.digest, { ...s, size: desc.size })
  }
  const resume = { source, destination, desc, journal, onSession, op, log: opts.logger ?? silentLogger }
  try {
    if (!(entry && (await resumed(resume, entry, progress)))) {
      await stream(
        await read(0),
        (b) => destination.pushBlob(desc, b, { ...op, onSession, reopen }),
        progress,
      )
    }
    if (kept) journal.forget(destination.name, desc.digest)
  } catch (err) {
    // Content that is wrong can never complete the session (the registry client dropped it); a failure
    // of the network leaves it for the next run.
    if (kept && (isFerryError(err, 'DIGEST_MISMATCH') || isFerryError(err, 'SIZE_INVALID')))
      journal.forget(destination.name, desc.digest)
    throw err
  } finally {
    if (kept) await journal.settled()
  }
  return 'copied'
}

interface Resume {
  op: OperationOptions
  source: ReadOnlyTarget
  destination: Target & ResumableBlobPush
  desc: Descriptor
  journal: UploadJournal
  onSession: (s: UploadSession) => void
  log: Logger
}

/**
 * Failures that leave the session as good as it was: the link went (a whole upload would fail the same
 * way) or the user stopped the copy. Both keep it in the journal for the next run.
 */
const keepsSession = (err: unknown) => isFerryError(err, 'NETWORK') || isFerryError(err, 'ABORTED')

const reason = (err: unknown) => redact(err instanceof Error ? err.message : String(err))

/**
 * Continues the session a previous run left in the journal, when the registry still has it and the
 * source can read from its offset. False means: upload the blob whole (anything about the resume
 * failed, or there was nothing to resume).
 */
async function resumed(r: Resume, entry: JournalEntry, progress: Progress): Promise<boolean> {
  const { source, destination, desc, journal, log, op } = r
  if (entry.size !== desc.size) return false
  const blob = `${destination.name}@${desc.digest}`
  const whole = (why: string) => {
    log.debug(`${blob}: ${why}; uploading it whole`)
    return false
  }
  let session: UploadSession | undefined
  try {
    session = await destination.resumeOffset(desc, entry.location, op)
  } catch (err) {
    if (keepsSession(err)) throw err
    return whole(`upload session ${sessionPath(entry.location)} not readable (${reason(err)})`)
  }
  if (!session || session.offset <= 0 || session.offset > desc.size) {
    journal.forget(destination.name, desc.digest)
    return whole(`the registry no longer has upload session ${sessionPath(entry.location)}`)
  }
  if (!canReadFrom(source)) return whole(`${source.name} cannot read from an offset`)
  let body: Readable
  try {
    // The registry holds it all (the commit was what failed): only the PUT is left to send.
    body =
      session.offset === desc.size ? Readable.from([]) : await source.fetchBlobFrom(desc, session.offset, op)
  } catch (err) {
    if (isFerryError(err, 'ABORTED')) throw err
    return whole(`${source.name} cannot read from byte ${session.offset} (${reason(err)})`)
  }
  log.debug(`resuming ${blob} at ${session.offset} of ${desc.size}`)
  r.onSession(session)
  const push = (b: Readable) =>
    destination.pushBlobFrom(desc, session.location, session.offset, b, {
      ...op,
      onSession: r.onSession,
      reopen: readerOf(source, desc, op),
    })
  try {
    await stream(body, push, progress)
    return true
  } catch (err) {
    // The network failed again (or Ctrl-C): the session has moved on and is in the journal, so the
    // next run continues from there. Starting from zero over the same link now would only lose that.
    if (keepsSession(err)) throw err
    journal.forget(destination.name, desc.digest)
    return whole(`resume refused (${reason(err)})`)
  }
}

/** Streams `body` into `push`, counting bytes as they pass. */
async function stream(body: Readable, push: (b: Readable) => Promise<void>, progress: Progress) {
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      progress(chunk.byteLength)
      cb(null, chunk)
    },
  })
  // chain carries a source failure (cut connection, digest mismatch) into the destination's stream,
  // so the destination aborts the upload instead of committing a short blob. The push's outcome is
  // the authority: a destination that re-read the source from an offset (a resumed upload) has let go
  // of this stream on purpose, and one that gave up must not leave the source connection open.
  const flowing = new Promise<void>((resolve) => chain(body, counter, () => resolve()))
  try {
    await push(counter)
  } finally {
    if (!counter.destroyed) counter.destroy()
    await flowing
  }
}
