import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough, pipeline as pipeStreams, type Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadOnlyTarget } from '../../content/target.js'
import { isFerryError } from '../../errors.js'
import { INGEST_DIR } from '../../layout/blobs.js'
import type { OciLayout } from '../../layout/index.js'
import type { Logger } from '../../log.js'
import type { Digest } from '../../oci/digest.js'
import type { Descriptor } from '../../oci/schemas.js'
import { siblingTemp } from '../../util/files.js'
import type { CacheStats } from './cache-stats.js'
import type { Eviction } from './eviction.js'
import { GrowingFile } from './growing-file.js'
import { upstreamError } from './upstream-errors.js'

interface Flight {
  /** Resolves once the blob is verified and in the store. */
  done: Promise<void>
  /** The bytes as they arrive, for the reader that started the download. */
  branch?: PassThrough
  /** Resolves when upstream's answer ended verified (before the store has synced it). */
  verified: Promise<void>
  /** The file the download fills, for readers that join while it runs; undefined once it failed early. */
  file: Promise<GrowingFile | undefined>
}

/** Passes chunks on but the last, which goes only once `done` resolves (and never if it rejects). */
function holdLastUntil(done: Promise<void>): Transform {
  let held: Buffer | undefined
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const previous = held
      held = chunk
      cb(null, previous)
    },
    flush(cb) {
      done.then(
        () => cb(null, held),
        (err: unknown) => cb(err as Error),
      )
    },
  })
}

/**
 * Downloads are shared by digest and size: a reader whose repository gives a layer its right size never
 * joins (and fails with) a download started for a repository that gives it a wrong one.
 */
const flightKey = (d: Descriptor) => `${d.digest}/${d.size}`

/**
 * The blob half of the pull-through cache's tee (oras-go content/proxy's Fetch, which pushes into the
 * cache what it reads from the base): one upstream GET per blob however many readers ask at once, its
 * bytes written to a file of the layout's ingest directory as they pass and adopted into the blob store
 * once upstream's answer verified. The reader that started the download reads upstream's answer as it
 * arrives; readers that join read the download's file as it grows. Every reader's last byte waits for
 * the verdict, so a corrupt answer reaches each as an error, never as a clean end.
 */
export class BlobFlights {
  private readonly flights = new Map<string, Flight>()

  constructor(
    private readonly layout: OciLayout,
    private readonly stats: CacheStats,
    private readonly eviction: Eviction,
    private readonly logger: Logger,
  ) {}

  /**
   * The blob's bytes from `upstream` as they arrive, stored as they pass (or joining the download in
   * flight). Undefined when the download finished before this reader could join it: the blob is then in
   * the store, or the download failed (the rejection comes from `fill`).
   */
  async read(upstream: ReadOnlyTarget, desc: Descriptor): Promise<Readable | undefined> {
    const running = this.flights.get(flightKey(desc))
    if (!running) {
      const flight = this.start(upstream, desc, true)
      // Reading the growing file instead, as joiners do, would read every byte back from the page cache:
      // 1.78 → 2.18 CPU-seconds of the mirror per 256 MiB first pull (bench/cache.ts, back to back).
      // The branch's failure reaches the reader as this stream's error; a reader that goes away closes
      // the branch, which the download then stops feeding (it goes on for the store and the joiners).
      return pipeStreams(flight.branch!, holdLastUntil(flight.verified), () => {})
    }
    const file = await running.file
    const reader = file && (await file.reader(desc.size, running.verified))
    if (reader) return reader
    await running.done
    return undefined
  }

  /** Resolves once the blob is in the store: downloaded now, or by the download already in flight. */
  fill(upstream: ReadOnlyTarget, desc: Descriptor): Promise<void> {
    return (this.flights.get(flightKey(desc)) ?? this.start(upstream, desc)).done
  }

  /** Resolves when every download in flight has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.flights.values()].map((f) => f.done))
  }

  private start(upstream: ReadOnlyTarget, desc: Descriptor, withBranch = false): Flight {
    const branch = withBranch ? new PassThrough() : undefined
    // The starting reader's pipeline reports the branch's failure to it; this listener keeps a failure
    // that comes when that pipeline is not (or no longer) listening from being an unhandled 'error'.
    branch?.on('error', () => {})
    let ended: (ok: boolean) => void = () => {}
    const verified = new Promise<void>((resolve, reject) => {
      ended = (ok) => (ok ? resolve() : reject(new Error(`${desc.digest}: download failed`)))
    })
    let opened: (file: GrowingFile | undefined) => void = () => {}
    const file = new Promise<GrowingFile | undefined>((resolve) => {
      opened = resolve
    })
    const done = this.download(upstream, desc, branch, ended, opened).finally(() =>
      this.flights.delete(flightKey(desc)),
    )
    // Waiters see the failure through their own await; these only keep it from being unhandled.
    done.catch(() => ended(false))
    done.then(
      () => opened(undefined),
      () => opened(undefined),
    )
    verified.catch(() => {})
    const flight = { done, branch, verified, file }
    this.flights.set(flightKey(desc), flight)
    return flight
  }

  private async download(
    upstream: ReadOnlyTarget,
    desc: Descriptor,
    branch: PassThrough | undefined,
    ended: (ok: boolean) => void,
    opened: (file: GrowingFile) => void,
  ): Promise<void> {
    const what = `${upstream.name}@${desc.digest}`
    const ingest = join(this.layout.dir, INGEST_DIR)
    const temp = siblingTemp(join(ingest, desc.digest.replace(':', '-')), 'partial')
    let asked = false
    let received = false
    try {
      // The file exists before upstream answers, so upstream's bytes have a consumer the moment they come:
      // a small answer fails verification within a tick or two, and a stream that fails with nobody
      // listening takes the whole process down (sweep H1: a buffer stream that got its reader only after
      // the file was created).
      await mkdir(ingest, { recursive: true })
      const { file, writer } = await GrowingFile.create(temp)
      let body: Readable
      try {
        // fetchBlob's stream ends only when size and digest matched; it errors otherwise.
        this.stats.upstreamRequests++
        asked = true
        body = await upstream.fetchBlob(desc)
      } catch (err) {
        await new Promise((resolve) => writer.once('close', resolve).destroy())
        throw err
      }
      body.once('end', () => ended(true))
      body.on('error', (err) => {
        ended(false)
        branch?.destroy(err)
      })
      // fetchBlob's stream already hashes what it passes: the file it fills is adopted (a rename) once that
      // stream ended verified, without hashing the bytes a second time.
      const written = pipeline(body, writer)
      if (branch) {
        body.pipe(branch)
        // A reader that goes away leaves the download running for the store (and the joiners).
        branch.once('close', () => body.unpipe(branch))
      }
      opened(file)
      await written
      received = true
      this.stats.bytesFromUpstream += desc.size
      await this.layout.adoptBlob(temp, { digest: desc.digest as Digest, size: desc.size })
    } catch (err) {
      // Upstream's failure (no answer, or bytes that do not verify), not the store's.
      if (asked && !received) this.stats.upstreamErrors++
      branch?.destroy(err as Error)
      // Logged here once per download: the reader that started it only sees its stream fail.
      if (isFerryError(err, 'DIGEST_MISMATCH') || isFerryError(err, 'SIZE_INVALID')) {
        this.logger.warn(
          `${what}: upstream sent bytes that do not match; not cached: ${(err as Error).message}`,
        )
      }
      throw upstreamError(err, what, this.logger)
    } finally {
      await rm(temp, { force: true })
    }
    this.eviction.added(desc.size)
  }
}
