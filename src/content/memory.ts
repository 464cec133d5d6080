import { pipeline, Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import { FerryError } from '../errors.js'
import { descriptorOf } from '../oci/descriptor.js'
import { type Digest, digestOf, isDigestReference, parseDigest, verifyingStream } from '../oci/digest.js'
import { artifactTypeOf, childrenOf, type Manifest, subjectOf } from '../oci/manifest.js'
import { NONDISTRIBUTABLE_MEDIA_TYPES } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import { preconditionFailure } from './precondition.js'
import {
  type DeleteSupport,
  hasBytes,
  type OperationOptions,
  type PushedManifest,
  type ReferrersListing,
  type ReferrersQuery,
  type Taggable,
  type TagOptions,
  type TagOutcome,
  type Target,
  type UntagOptions,
} from './target.js'

/**
 * One repository held in memory, as oras-go's `content/memory`: for tests of the algorithms (copy, graph
 * walks, retention, bundles) without a registry process, and for callers that stage content before they
 * write it anywhere. It keeps the contract as strictly as a registry does: manifests by digest with their
 * exact bytes, blobs verified (size and digest) before they are stored, a manifest refused while a blob
 * or child manifest it names is missing, tag preconditions checked atomically (CONFLICT), referrers
 * listed by their `subject` on their own (an OCI 1.1 registry's API, here the store's own index).
 */
export class MemoryTarget implements Target {
  private readonly blobs = new Map<string, Buffer>()
  private readonly manifests = new Map<string, Manifest>()
  private readonly tags = new Map<string, Digest>()

  constructor(readonly name = 'memory') {}

  async fetchManifest(reference: string, opts?: OperationOptions): Promise<Manifest> {
    opts?.signal?.throwIfAborted()
    const digest = isDigestReference(reference) ? parseDigest(reference).digest : this.tagged(reference)
    const m = this.manifests.get(digest)
    if (!m) throw new FerryError('NOT_FOUND', `${this.name}@${digest}: manifest not found`)
    return m
  }

  async resolve(reference: string, opts?: OperationOptions): Promise<Descriptor> {
    const m = await this.fetchManifest(reference, opts)
    return descriptorOf(m)
  }

  /** The stored bytes, checked again as they flow against what the caller's descriptor says. */
  async fetchBlob(desc: Descriptor, opts?: OperationOptions): Promise<Readable> {
    opts?.signal?.throwIfAborted()
    const bytes = this.blobs.get(desc.digest)
    if (!bytes) throw new FerryError('NOT_FOUND', `${this.name}@${desc.digest}: blob not found`)
    const what = `${this.name}@${desc.digest}`
    return pipeline(Readable.from([bytes]), verifyingStream({ ...desc, subject: what }), () => {})
  }

  async hasBlob(desc: Descriptor, opts?: OperationOptions): Promise<boolean> {
    opts?.signal?.throwIfAborted()
    return this.blobs.get(desc.digest)?.byteLength === desc.size
  }

  async hasManifest(digest: Digest, opts?: OperationOptions): Promise<boolean> {
    opts?.signal?.throwIfAborted()
    return this.manifests.has(digest)
  }

  async pushBlob(desc: Descriptor, body: Readable, opts?: OperationOptions): Promise<void> {
    opts?.signal?.throwIfAborted()
    if (await this.hasBlob(desc)) {
      body.destroy()
      return
    }
    const verified = pipeline(
      body,
      verifyingStream({ ...desc, subject: `${this.name}@${desc.digest}` }),
      () => {},
    )
    this.blobs.set(desc.digest, await buffer(verified))
  }

  async pushManifest(manifest: Manifest, opts?: OperationOptions): Promise<PushedManifest> {
    opts?.signal?.throwIfAborted()
    this.store(manifest)
    return { subjectIndexed: true }
  }

  async deleteManifest(digest: Digest, opts?: OperationOptions): Promise<void> {
    opts?.signal?.throwIfAborted()
    if (!this.manifests.delete(parseDigest(digest).digest)) {
      throw new FerryError('NOT_FOUND', `${this.name}@${digest}: manifest not found`)
    }
    // As a registry: the manifest's tags go with it.
    for (const [tag, named] of this.tags) if (named === digest) this.tags.delete(tag)
  }

  /** Checked and written in one step (nothing awaits in between), so the precondition is atomic. */
  async tag(target: Taggable, name: string, opts: TagOptions = {}): Promise<TagOutcome> {
    opts.signal?.throwIfAborted()
    const digest = target.digest as Digest
    const previous = this.tags.get(name)
    const failed = preconditionFailure(previous, digest, opts.precondition)
    if (failed) throw new FerryError('CONFLICT', `${this.name}:${name}: ${failed}`)
    if (hasBytes(target)) this.store(target)
    else if (!this.manifests.has(digest)) {
      throw new FerryError('NOT_FOUND', `${this.name}@${digest}: manifest not found, cannot tag it ${name}`)
    }
    this.tags.set(name, digest)
    return { previous, changed: previous !== digest }
  }

  async untag(name: string, opts: UntagOptions = {}): Promise<void> {
    opts.signal?.throwIfAborted()
    const current = this.tagged(name)
    if (opts.ifMatch && current !== opts.ifMatch) {
      throw new FerryError(
        'CONFLICT',
        `${this.name}:${name}: points at ${current}, expected ${opts.ifMatch}; not untagged`,
      )
    }
    this.tags.delete(name)
  }

  async listTags(opts?: OperationOptions): Promise<string[]> {
    opts?.signal?.throwIfAborted()
    return [...this.tags.keys()].sort()
  }

  async referrers(digest: Digest, opts: ReferrersQuery = {}): Promise<Descriptor[]> {
    opts.signal?.throwIfAborted()
    parseDigest(digest)
    return [...this.manifests.values()]
      .filter((m) => subjectOf(m)?.digest === digest)
      .filter((m) => opts.artifactType === undefined || artifactTypeOf(m) === opts.artifactType)
      .map((m) => descriptorOf(m, { artifactType: 'referrers', annotations: 'own' }))
  }

  async referrersListing(): Promise<ReferrersListing> {
    return 'index'
  }

  /** Referrers are listed from the manifests held: one stored is listed, one deleted is not. */
  async addReferrer(): Promise<void> {}

  async removeReferrer(): Promise<void> {}

  async deletes(): Promise<DeleteSupport> {
    return { manifest: true, tag: true }
  }

  async close(): Promise<void> {}

  private tagged(tag: string): Digest {
    const digest = this.tags.get(tag)
    if (!digest) throw new FerryError('NOT_FOUND', `${this.name}: tag "${tag}" not found`)
    return digest
  }

  /** The exact bytes under their digest, once everything they name is here (a registry refuses otherwise). */
  private store(m: Manifest): void {
    const what = `${this.name}@${m.digest}`
    if (digestOf(m.bytes, parseDigest(m.digest).algorithm) !== m.digest) {
      throw new FerryError('DIGEST_MISMATCH', `${what}: manifest bytes do not hash to ${m.digest}`)
    }
    const { manifests, blobs } = childrenOf(m)
    const missing = [
      ...manifests.filter((d) => !this.manifests.has(d.digest)),
      ...blobs.filter(
        (d) => !NONDISTRIBUTABLE_MEDIA_TYPES.includes(d.mediaType) && !this.blobs.has(d.digest),
      ),
    ]
    if (missing.length > 0) {
      throw new FerryError('NOT_FOUND', `${what}: names ${missing[0]!.digest}, which is not stored here`)
    }
    this.manifests.set(m.digest, m)
  }
}
