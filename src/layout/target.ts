import { createReadStream } from 'node:fs'
import { pipeline, Readable, Transform } from 'node:stream'
import type { RangedBlobSource } from '../content/capabilities.js'
import { preconditionFailure } from '../content/precondition.js'
import type {
  DeleteSupport,
  OperationOptions,
  PushedManifest,
  ReferrersListing,
  ReferrersQuery,
  Taggable,
  TagOptions,
  TagOutcome,
  Target,
  UntagOptions,
} from '../content/target.js'
import { hasBytes } from '../content/target.js'
import { FerryError } from '../errors.js'
import { descriptorOf } from '../oci/descriptor.js'
import { type Digest, digestOf, parseDigest } from '../oci/digest.js'
import { childrenOf, type Manifest, parseManifest } from '../oci/manifest.js'
import { isIndexMediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import { isDigestReference } from '../reference/grammar.js'
import { READ_BYTES } from '../util/batches.js'
import { fileSize, readBlob, readManifestBytes, writeBlob } from './blobs.js'
import { addEntry, entryDescriptor, manifestEntry, removeDigest, removeRefName } from './entries.js'
import type { OciLayout } from './layout.js'
import { entryTag, inView, refNameFor, refNameOf, validateRepository } from './naming.js'
import { findReferrers, type SubjectCache } from './referrers.js'

const subjectCaches = new WeakMap<OciLayout, SubjectCache>()

/** A layout operation is local and short: it checks the signal when it starts. */
function enter(opts: OperationOptions | undefined): void {
  opts?.signal?.throwIfAborted()
}

/** A blob being written stops (and its temp file goes) when the signal fires mid-stream. */
function stopOnAbort(opts: OperationOptions | undefined, body: Readable): void {
  const signal = opts?.signal
  if (!signal) return
  const stop = () => body.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
  signal.addEventListener('abort', stop, { once: true })
  body.once('close', () => signal.removeEventListener('abort', stop))
}

/**
 * One repository view of an OCI image layout (see naming.ts). `name` is `oci:DIR`, or `oci:DIR:REPO` for
 * a repository view, so that `name:TAG` is the reference skopeo takes for the same entry.
 */
export class LayoutTarget implements Target, RangedBlobSource {
  readonly name: string

  constructor(
    readonly layout: OciLayout,
    readonly repository: string | undefined,
  ) {
    if (repository !== undefined) validateRepository(repository)
    this.name = repository === undefined ? `oci:${layout.dir}` : `oci:${layout.dir}:${repository}`
  }

  private async entries(): Promise<Descriptor[]> {
    return (await this.layout.readIndex()).index.manifests
  }

  private async tagged(tag: string): Promise<Descriptor> {
    const refName = this.repository === undefined ? tag : refNameFor(this.repository, tag)
    const entry = (await this.entries()).find((e) => refNameOf(e) === refName)
    if (!entry) throw new FerryError('NOT_FOUND', `${this.name}: tag "${tag}" not found`)
    return entry
  }

  private async load(digest: Digest, mediaType: string | undefined, what: string): Promise<Manifest> {
    const bytes = await readManifestBytes(this.layout.blobPath(digest), digest, this.name)
    return parseManifest(bytes, { expectedDigest: digest, contentType: mediaType, subject: what })
  }

  async resolve(reference: string, opts?: OperationOptions): Promise<Descriptor> {
    enter(opts)
    if (isDigestReference(reference))
      return descriptorOf(await this.fetchManifest(reference), { artifactType: 'own' })
    const entry = await this.tagged(reference)
    if ((await fileSize(this.layout.blobPath(entry.digest as Digest))) === undefined) {
      throw new FerryError('NOT_FOUND', `${this.name}:${reference}: manifest ${entry.digest} is missing`)
    }
    return entryDescriptor(entry)
  }

  async fetchManifest(reference: string, opts?: OperationOptions): Promise<Manifest> {
    enter(opts)
    if (isDigestReference(reference)) {
      const { digest } = parseDigest(reference)
      return this.load(digest, undefined, `${this.name}@${digest}`)
    }
    const entry = await this.tagged(reference)
    const what = `${this.name}:${reference}`
    const m = await this.load(entry.digest as Digest, entry.mediaType, what)
    if (m.bytes.byteLength !== entry.size) {
      throw new FerryError(
        'SIZE_INVALID',
        `${what}: manifest is ${m.bytes.byteLength} bytes, index.json says ${entry.size}`,
      )
    }
    return m
  }

  async fetchBlob(desc: Descriptor, opts?: OperationOptions): Promise<Readable> {
    enter(opts)
    return readBlob(this.layout.blobPath(desc.digest as Digest), desc, `${this.name}@${desc.digest}`)
  }

  /**
   * Bytes [offset, size) of a blob file, for an upload another run left at `offset`: the file must be
   * the declared size and the stream is counted, but not hashed (the destination verifies the whole).
   */
  async fetchBlobFrom(desc: Descriptor, offset: number, opts?: OperationOptions): Promise<Readable> {
    enter(opts)
    const what = `${this.name}@${desc.digest}`
    const path = this.layout.blobPath(desc.digest as Digest)
    const size = await fileSize(path)
    if (size === undefined) throw new FerryError('NOT_FOUND', `${what}: blob not found`)
    if (size !== desc.size) {
      throw new FerryError('SIZE_INVALID', `${what}: blob file has ${size} bytes, expected ${desc.size}`)
    }
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
      throw new FerryError('USAGE', `${what}: cannot read from byte ${offset} of ${size}`)
    }
    let seen = 0
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length
        cb(null, chunk)
      },
      flush(cb) {
        const want = size - offset
        cb(
          seen === want
            ? null
            : new FerryError('SIZE_INVALID', `${what}: read ${seen} bytes, expected ${want}`),
        )
      },
    })
    // A file replaced or truncated while it is read fails the count instead of ending short.
    return pipeline(createReadStream(path, { start: offset, highWaterMark: READ_BYTES }), count, () => {})
  }

  async hasBlob(desc: Descriptor, opts?: OperationOptions): Promise<boolean> {
    enter(opts)
    return (await fileSize(this.layout.blobPath(desc.digest as Digest))) === desc.size
  }

  /**
   * Whether this view holds the manifest: an index.json entry of the view names it, or it is a child of
   * an index the view holds. The blob file alone is not enough: another view of the same layout may have
   * written it, and this view would then list neither it nor its referrers.
   */
  async hasManifest(digest: Digest, opts?: OperationOptions): Promise<boolean> {
    enter(opts)
    if ((await fileSize(this.layout.blobPath(digest))) === undefined) return false
    const mine = (await this.entries()).filter((e) => inView(e, this.repository))
    if (mine.some((e) => e.digest === digest)) return true
    const seen = new Set<string>()
    const reaches = async (entry: Descriptor): Promise<boolean> => {
      if (seen.has(entry.digest) || !isIndexMediaType(entry.mediaType)) return false
      seen.add(entry.digest)
      const index = await this.load(entry.digest as Digest, entry.mediaType, `${this.name}@${entry.digest}`)
      const { manifests } = childrenOf(index)
      if (manifests.some((c) => c.digest === digest)) return true
      for (const child of manifests) if (await reaches(child)) return true
      return false
    }
    for (const e of mine) if (await reaches(e)) return true
    return false
  }

  async pushBlob(desc: Descriptor, body: Readable, opts?: OperationOptions): Promise<void> {
    enter(opts)
    stopOnAbort(opts, body)
    const path = this.layout.blobPath(desc.digest as Digest)
    await writeBlob(this.layout.dir, path, desc, body, `${this.name}@${desc.digest}`)
  }

  /** Writes the bytes and an untagged entry of this view (which also lists it as a referrer). */
  async pushManifest(manifest: Manifest, opts?: OperationOptions): Promise<PushedManifest> {
    enter(opts)
    await this.writeManifestBlob(manifest, `${this.name}@${manifest.digest}`)
    const entry = manifestEntry(manifest, this.repository)
    await this.layout.updateIndex((index) => addEntry(index, entry))
    return { subjectIndexed: true }
  }

  private async writeManifestBlob(manifest: Manifest, what: string): Promise<void> {
    const bytes = Buffer.from(manifest.bytes.buffer, manifest.bytes.byteOffset, manifest.bytes.byteLength)
    // An existing blob is not rewritten, so the bytes must be checked here or a bad entry could be recorded.
    if (digestOf(bytes, parseDigest(manifest.digest).algorithm) !== manifest.digest) {
      throw new FerryError('DIGEST_MISMATCH', `${what}: manifest bytes do not hash to ${manifest.digest}`)
    }
    const desc = { digest: manifest.digest, size: bytes.byteLength }
    await writeBlob(
      this.layout.dir,
      this.layout.blobPath(manifest.digest),
      desc,
      Readable.from([bytes]),
      what,
    )
  }

  /** Atomic: the precondition is checked and the entry written under index.json's lock. */
  async tag(target: Taggable, name: string, opts: TagOptions = {}): Promise<TagOutcome> {
    enter(opts)
    // Validate the name before anything is written; the entry is the last thing to change.
    const refName = refNameFor(this.repository, name)
    const what = `${this.name}:${name}`
    const manifest = hasBytes(target)
      ? target
      : await this.load(target.digest as Digest, target.mediaType, what)
    if (hasBytes(target)) await this.writeManifestBlob(manifest, what)
    const entry = manifestEntry(manifest, this.repository, refName)
    let outcome: TagOutcome = { changed: false }
    await this.layout.updateIndex((index) => {
      const previous = index.manifests.find((e) => refNameOf(e) === refName)?.digest as Digest | undefined
      const failed = preconditionFailure(previous, manifest.digest, opts.precondition)
      if (failed) throw new FerryError('CONFLICT', `${what}: ${failed}`)
      const next = addEntry(index, entry)
      outcome = { previous, changed: next !== undefined && previous !== manifest.digest }
      return next
    })
    return outcome
  }

  async listTags(opts?: OperationOptions): Promise<string[]> {
    enter(opts)
    const tags = new Set<string>()
    for (const e of await this.entries()) {
      const tag = entryTag(e, this.repository)
      if (tag !== undefined) tags.add(tag)
    }
    return [...tags].sort()
  }

  async referrers(digest: Digest, opts: ReferrersQuery = {}): Promise<Descriptor[]> {
    enter(opts)
    parseDigest(digest)
    const cache = subjectCaches.get(this.layout) ?? new Map()
    subjectCaches.set(this.layout, cache)
    const mine = (await this.entries()).filter((e) => inView(e, this.repository))
    const load = (d: Digest, mediaType: string) => this.load(d, mediaType, `${this.name}@${d}`)
    return findReferrers(mine, digest, load, cache, opts.artifactType)
  }

  /** Drops this view's entries for the manifest. Blobs are shared between views and are not collected. */
  async deleteManifest(digest: Digest, opts?: OperationOptions): Promise<void> {
    enter(opts)
    parseDigest(digest)
    let found = false
    await this.layout.updateIndex((index) => {
      const next = removeDigest(index, this.repository, digest)
      found = next !== undefined
      return next
    })
    if (!found) throw new FerryError('NOT_FOUND', `${this.name}@${digest}: manifest not found`)
  }

  async untag(tag: string, opts: UntagOptions = {}): Promise<void> {
    enter(opts)
    const refName = this.repository === undefined ? tag : refNameFor(this.repository, tag)
    await this.layout.updateIndex((index) => {
      const current = index.manifests.find((e) => refNameOf(e) === refName)
      if (!current) throw new FerryError('NOT_FOUND', `${this.name}: tag "${tag}" not found`)
      if (opts.ifMatch && current.digest !== opts.ifMatch) {
        throw new FerryError(
          'CONFLICT',
          `${this.name}:${tag}: points at ${current.digest}, expected ${opts.ifMatch}; not untagged`,
        )
      }
      return removeRefName(index, refName)
    })
  }

  /** A layout lists referrers from its entries: a referrer this view holds is already listed. */
  async addReferrer(_subject: Digest, referrer: Descriptor, opts?: OperationOptions): Promise<void> {
    enter(opts)
    if (await this.hasManifest(referrer.digest as Digest)) {
      const listed = (await this.entries()).some(
        (e) => e.digest === referrer.digest && inView(e, this.repository),
      )
      if (listed) return
    }
    const m = await this.load(
      referrer.digest as Digest,
      referrer.mediaType,
      `${this.name}@${referrer.digest}`,
    )
    await this.pushManifest(m)
  }

  /** Drops the view's untagged entry for the referrer; a tagged one stays (its tag still names it). */
  async removeReferrer(_subject: Digest, referrer: Digest, opts?: OperationOptions): Promise<void> {
    enter(opts)
    await this.layout.updateIndex((index) => {
      const manifests = index.manifests.filter(
        (e) => !(e.digest === referrer && refNameOf(e) === undefined && inView(e, this.repository)),
      )
      return manifests.length === index.manifests.length ? undefined : { ...index, manifests }
    })
  }

  async referrersListing(): Promise<ReferrersListing> {
    return 'index'
  }

  /** An entry of index.json goes as easily by digest as by name. */
  async deletes(): Promise<DeleteSupport> {
    return { manifest: true, tag: true }
  }

  async close(): Promise<void> {}
}
